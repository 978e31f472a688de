// `dyn check --nemesis lose-unsynced` on real processes: the nodes run with --sync none, and
// the seed plans one power loss of all three nodes (their stores copied, written on, killed,
// put back to the copy and started again). The run must carry the fault out as planned,
// leave no operation succeeding while every node is down, and pass every check.
// However the run ends, the cleanup kills every node process the cluster file names.
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseHistory, planFaults, type Fault} from '../../src/check/index.js'
import {checkWorkspace} from './check-workspace.js'
import {dyn, json} from '../commands/helpers.js'

const workspace = checkWorkspace('dyn-check-unsynced-')

describe('dyn check with lose-unsynced', () => {
  it('loses the unsynced writes of every node at once, as planned, and every check holds', {timeout: 80_000}, async () => {
    const seed = 7
    const nodes = ['n1', 'n2', 'n3']
    const planned = planFaults({seed, durationMs: 6_000, nodes, kinds: ['lose-unsynced'], unsyncedNodes: nodes})
    expect(planned.map((fault) => [fault.kind, fault.nodes]), 'the seed plans one power loss of every node').toEqual([['lose-unsynced', nodes]])
    const plan = planned[0]!
    const history = join(workspace(), 'history.jsonl')
    const run = await dyn(
      ['check', '--seed', String(seed), '--duration', '6s', '--clients', '2', '--keys', '3', '--nemesis', 'lose-unsynced', '--converge-timeout', '20s', '--dir', join(workspace(), 'cluster'), '--history', history, '--timeline', join(workspace(), 'timeline.svg'), '--json'],
      {timeoutMs: 60_000},
    )
    expect(run.exitCode, `${run.stdout.slice(0, 4000)}\n${run.stderr}`).toBe(0)
    const report = json(run) as {
      valid: boolean
      cluster: {unsyncedNodes: string[]}
      checks: {name: string; ok: boolean}[]
      writes: {acknowledged: number; lostUnsynced: number; lost: number}
      lostUnsyncedOperations: number[]
      faults: Fault[]
      operations: {total: number}
      convergence: {converged: boolean}
    }
    expect(report.valid).toBe(true)
    expect(report.checks.filter((check) => !check.ok)).toEqual([])
    expect(report.writes.acknowledged).toBeGreaterThan(0)
    expect(report.writes.lost).toBe(0)
    expect(report.lostUnsyncedOperations).toHaveLength(report.writes.lostUnsynced)
    expect(report.convergence.converged).toBe(true)
    // The check chose --sync none for the nodes it started, since lose-unsynced needs it.
    expect(report.cluster.unsyncedNodes).toEqual(nodes)

    // Carried out: copied, written on for the window, killed, down for the planned time, no error.
    expect(report.faults).toHaveLength(1)
    const fault = report.faults[0]!
    expect(fault).toMatchObject({kind: 'lose-unsynced', nodes})
    expect(fault.error, fault.error).toBeUndefined()
    expect(fault.snapshotMs).toBeGreaterThanOrEqual(fault.startMs)
    expect(fault.killMs! - fault.snapshotMs!).toBeGreaterThanOrEqual(plan.windowMs!)
    expect(fault.endMs! - fault.killMs!).toBeGreaterThanOrEqual(plan.durationMs)

    // The history records the same fault and every operation; while every node was down
    // (from the kill until the planned restart), clients tried and nothing succeeded.
    const parsed = parseHistory(await readFile(history, 'utf8'))
    expect(parsed.faults).toEqual(report.faults)
    expect(parsed.operations).toHaveLength(report.operations.total)
    const whileDown = parsed.operations.filter((op) => op.invokeMs > fault.killMs! && op.invokeMs < fault.killMs! + plan.durationMs)
    expect(whileDown.length, 'operations invoked while every node was down').toBeGreaterThan(0)
    expect(whileDown.filter((op) => op.outcome === 'ok')).toEqual([])
    // Some acknowledged writes fell in the window the power loss took back.
    const inWindow = parsed.operations.filter((op) => op.kind === 'put' && op.outcome === 'ok' && op.invokeMs > fault.snapshotMs! && op.completeMs! < fault.killMs!)
    expect(inWindow.length, 'writes acknowledged between the copy and the kill').toBeGreaterThan(0)
  })
})
