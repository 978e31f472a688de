// What `dyn check` prints: the JSON document of `--json` (docs/cli.md, `dyn check`) and the
// summary a person reads. Both are built from the run's report (run.ts) alone.
import {violationsPerCheckMax, type Availability} from './checker.js'
import {describeFault, type CheckReport} from './run.js'

/** Violations the summary lists; the JSON has up to violationsPerCheckMax per check. */
const violationsShownMax = 10

/** Version of the `dyn check --json` document. */
export const checkShapeVersion = 1

export interface CheckFiles {
  readonly history: string
  readonly timeline: string
}

function share(availability: Availability) {
  return {...availability, share: availability.total === 0 ? null : Number((availability.ok / availability.total).toFixed(4))}
}

export function checkJson(report: CheckReport, files: CheckFiles, replay: string) {
  const result = report.result
  const operations = report.operations
  const count = (predicate: (op: CheckReport['operations'][number]) => boolean): number => operations.filter(predicate).length
  return {
    version: checkShapeVersion,
    valid: result.valid,
    seed: report.seed,
    replay,
    durationMs: report.durationMs,
    cluster: report.cluster,
    clients: report.clients,
    keys: report.keys,
    nemesis: report.nemesis,
    checks: result.checks,
    violations: result.violations,
    writes: result.writes,
    operations: {
      total: operations.length,
      gets: count((op) => op.kind === 'get'),
      puts: count((op) => op.kind === 'put'),
      ok: count((op) => op.outcome === 'ok'),
      fail: count((op) => op.outcome === 'fail'),
      unknown: count((op) => op.outcome === 'unknown'),
    },
    availability: {all: share(result.availability.all), duringFaults: share(result.availability.duringFaults), outsideFaults: share(result.availability.outsideFaults)},
    faults: report.faults,
    lateWrites: result.lateOperations.length,
    staleReads: result.staleReads,
    visibilityLagMsMax: result.visibilityLagMsMax,
    lostUnsyncedOperations: result.lostUnsyncedOperations,
    lostOperations: result.lostOperations,
    siblings: result.siblings,
    convergence: result.convergence,
    phases: report.phases,
    history: files.history,
    timeline: files.timeline,
  }
}

export function checkText(report: CheckReport, files: CheckFiles, replay: string): string {
  const result = report.result
  const w = result.writes
  const a = result.availability
  const lines: string[] = []
  lines.push(`dyn check, seed ${report.seed}: ${result.valid ? 'every check holds' : 'FAILED'}`)
  lines.push('')
  lines.push(
    `cluster   ${report.cluster.nodes.length} nodes (N=${report.cluster.n} R=${report.cluster.r} W=${report.cluster.w})${report.cluster.unsyncedNodes.length > 0 ? `, --sync none on ${report.cluster.unsyncedNodes.join(',')}` : ''}, ${report.cluster.started ? 'started for this run' : report.cluster.dir}`,
  )
  lines.push(`workload  ${report.clients.length} clients, ${report.keys.length} keys, ${(report.durationMs / 1000).toFixed(0)} s: ${report.operations.length} operations`)
  const kinds = new Map<string, number>()
  for (const fault of report.faults) kinds.set(fault.kind, (kinds.get(fault.kind) ?? 0) + 1)
  lines.push(`nemesis   ${report.faults.length === 0 ? 'no faults' : [...kinds].map(([kind, count]) => `${count} ${kind}`).join(', ')}`)
  for (const fault of report.faults) {
    const error = fault.error === undefined ? '' : `  (not carried out as planned: ${fault.error})`
    lines.push(`            ${(fault.startMs / 1000).toFixed(1).padStart(6)} s – ${((fault.endMs ?? fault.startMs) / 1000).toFixed(1).padStart(6)} s  ${describeFault(fault)}${error}`)
  }
  lines.push('')
  for (const check of result.checks) lines.push(`${check.ok ? 'ok  ' : 'FAIL'}  ${check.name}${check.ok ? '' : ` (${check.violations})`}`)
  lines.push('')
  lines.push(`writes        ${w.acknowledged} of ${w.attempted} acknowledged: ${w.present} present, ${w.superseded} superseded by a later context, ${w.lostUnsynced} lost unsynced, ${w.lost} lost`)
  lines.push(`availability  ${percent(a.duringFaults)} of operations ok during faults, ${percent(a.outsideFaults)} outside them, ${percent(a.all)} overall`)
  lines.push(`late writes   ${result.lateOperations.length} (a read after the acknowledgement missed them; ${result.staleReads} such reads; longest until seen ${result.visibilityLagMsMax} ms)`)
  lines.push(`siblings      at most ${result.siblings.readMax} in a read, ${result.siblings.finalMax} at the end (bound ${result.siblings.max})`)
  lines.push(`convergence   ${result.convergence.converged ? `${((result.convergence.convergeMs ?? 0) / 1000).toFixed(1)} s after healing` : 'not within the bound'}`)
  if (result.violations.length > 0) {
    lines.push('')
    lines.push('violations:')
    for (const violation of result.violations.slice(0, violationsShownMax)) lines.push(`  [${violation.check}]${violation.key === undefined ? '' : ` key ${violation.key}:`} ${violation.detail}`)
    const more = result.checks.reduce((sum, check) => sum + check.violations, 0) - Math.min(result.violations.length, violationsShownMax)
    if (more > 0) lines.push(`  ... and ${more} more (--json lists up to ${violationsPerCheckMax} per check)`)
  }
  lines.push('')
  lines.push(`history   ${files.history}`)
  lines.push(`timeline  ${files.timeline}`)
  if (!result.valid) lines.push(`replay    ${replay}`)
  return lines.join('\n')
}

function percent(availability: Availability): string {
  return availability.total === 0 ? 'n/a' : `${((100 * availability.ok) / availability.total).toFixed(1)} %`
}
