// The human summary of `dyn check` (not --json) after a short passing run on real
// processes with one partition: its verdict, check, count, availability and convergence
// lines, each compared with what the run's history file records rather than with fixed
// numbers. However the run ends, the cleanup kills every node process the cluster file names.
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {checkNames, describeFault, parseHistory, planFaults, type Fault, type Operation} from '../../src/check/index.js'
import {checkWorkspace} from './check-workspace.js'
import {dyn} from '../commands/helpers.js'

const workspace = checkWorkspace('dyn-check-text-')

/** The summary's percentage of operations invoked inside (or outside) a fault that succeeded. */
function percent(operations: readonly Operation[]): string {
  return operations.length === 0 ? 'n/a' : `${((100 * operations.filter((op) => op.outcome === 'ok').length) / operations.length).toFixed(1)} %`
}

function duringFault(op: Operation, faults: readonly Fault[]): boolean {
  return faults.some((fault) => op.invokeMs >= fault.startMs && op.invokeMs <= (fault.endMs ?? Number.POSITIVE_INFINITY))
}

describe('dyn check, the human summary', () => {
  it('says every check holds and gives the counts, availability and convergence the history shows', {timeout: 80_000}, async () => {
    const seed = 5
    const durationMs = 6_000
    const planned = planFaults({seed, durationMs, nodes: ['n1', 'n2', 'n3'], kinds: ['pause', 'partition'], unsyncedNodes: []})
    expect(planned.length, 'the seed plans a fault within the run').toBeGreaterThan(0)
    const history = join(workspace(), 'history.jsonl')
    const run = await dyn(
      ['check', '--seed', String(seed), '--duration', '6s', '--clients', '2', '--keys', '3', '--nemesis', 'pause,partition', '--converge-timeout', '20s', '--dir', join(workspace(), 'cluster'), '--history', history, '--timeline', join(workspace(), 'timeline.svg')],
      {timeoutMs: 60_000},
    )
    const shown = `exit ${run.exitCode}\n${run.stdout}\n${run.stderr}`
    expect(run.exitCode, shown).toBe(0)
    const text = run.stdout
    const line = (label: string): string => {
      const found = text.split('\n').find((candidate) => candidate.startsWith(label))
      if (found === undefined) throw new Error(`no line starting "${label}" in:\n${text}`)
      return found
    }

    const historyText = await readFile(history, 'utf8')
    const {operations, faults} = parseHistory(historyText)
    const phases = new Map<string, number>()
    for (const entry of historyText.split('\n').filter((candidate) => candidate.trim() !== '')) {
      const event = JSON.parse(entry) as {type: string; phase?: string; atMs?: number}
      if (event.type === 'phase') phases.set(event.phase!, event.atMs!)
    }
    const puts = operations.filter((op) => op.kind === 'put')
    const acknowledged = puts.filter((op) => op.outcome === 'ok')
    expect(acknowledged.length, 'the run acknowledged writes').toBeGreaterThan(0)
    expect(faults.map((fault) => [fault.kind, fault.nodes])).toEqual(planned.map((fault) => [fault.kind, fault.nodes]))

    // Verdict and checks.
    expect(text.split('\n')[0]).toBe(`dyn check, seed ${seed}: every check holds`)
    for (const name of checkNames) expect(text).toMatch(new RegExp(`^ok {4}${name}$`, 'm'))
    expect(text).not.toMatch(/^FAIL/m)
    expect(text).not.toContain('violations:')

    // Counts.
    expect(line('cluster   ')).toBe('cluster   3 nodes (N=3 R=2 W=2), started for this run')
    expect(line('workload  ')).toBe(`workload  2 clients, 3 keys, 6 s: ${operations.length} operations`)
    const kinds = [...new Set(faults.map((fault) => fault.kind))].map((kind) => `${faults.filter((fault) => fault.kind === kind).length} ${kind}`)
    expect(line('nemesis   ')).toBe(`nemesis   ${kinds.join(', ')}`)
    for (const fault of faults) expect(text).toMatch(new RegExp(` s {2}${describeFault(fault).replace(/\|/g, '\\|')}$`, 'm'))
    const writes = /^writes {8}(\d+) of (\d+) acknowledged: (\d+) present, (\d+) superseded by a later context, 0 lost unsynced, 0 lost$/.exec(line('writes '))
    expect(writes, line('writes ')).not.toBeNull()
    expect(Number(writes![1])).toBe(acknowledged.length)
    expect(Number(writes![2])).toBe(puts.length)
    expect(Number(writes![3]) + Number(writes![4])).toBe(acknowledged.length)

    // Availability: the share of operations invoked during a fault, outside and overall that succeeded.
    const during = operations.filter((op) => duringFault(op, faults))
    const outside = operations.filter((op) => !duringFault(op, faults))
    expect(during.length, 'operations ran during the fault').toBeGreaterThan(0)
    expect(line('availability  ')).toBe(`availability  ${percent(during)} of operations ok during faults, ${percent(outside)} outside them, ${percent(operations)} overall`)

    // Convergence: measured from the end of the healing, so within the healed-to-converged phases.
    const healedMs = phases.get('healedMs')
    const convergedMs = phases.get('convergedMs')
    expect(healedMs).toBeDefined()
    expect(convergedMs).toBeDefined()
    const convergence = /^convergence {3}(\d+\.\d) s after healing$/.exec(line('convergence '))
    expect(convergence, line('convergence ')).not.toBeNull()
    expect(Number(convergence![1])).toBeLessThanOrEqual((convergedMs! - healedMs!) / 1000 + 0.05)

    expect(line('history   ')).toBe(`history   ${history}`)
  })
})
