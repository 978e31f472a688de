// `dyn check` as a person runs it, on real processes: a short run with kills, pauses and
// partitions on a cluster it starts in a directory of the test's own, which must pass and
// leave a history, a timeline and a stopped cluster behind. However the run ends, the
// cleanup continues and kills every node process the cluster file names.
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseHistory} from '../../src/check/index.js'
import {checkWorkspace} from './check-workspace.js'
import {dyn, json} from '../commands/helpers.js'

const workspace = checkWorkspace('dyn-check-test-')

describe('dyn check', () => {
  it('passes a short run with kills, pauses and partitions and writes its history and timeline', {timeout: 150_000}, async () => {
    const history = join(workspace(), 'history.jsonl')
    const timeline = join(workspace(), 'timeline.svg')
    const run = await dyn(
      ['check', '--seed', '3', '--duration', '12s', '--clients', '2', '--keys', '3', '--nemesis', 'kill,pause,partition', '--dir', join(workspace(), 'cluster'), '--history', history, '--timeline', timeline, '--converge-timeout', '40s', '--json'],
      {timeoutMs: 140_000},
    )
    expect(run.exitCode, run.stderr + run.stdout.slice(0, 4000)).toBe(0)
    const report = json(run) as {
      valid: boolean
      checks: {name: string; ok: boolean}[]
      writes: {acknowledged: number; lost: number}
      faults: {kind: string; endMs?: number}[]
      operations: {total: number}
      convergence: {converged: boolean}
      replay: string
    }
    expect(report.valid).toBe(true)
    expect(report.checks.every((check) => check.ok)).toBe(true)
    expect(report.writes.acknowledged).toBeGreaterThan(0)
    expect(report.writes.lost).toBe(0)
    expect(report.faults.length).toBeGreaterThan(0)
    expect(report.faults.every((fault) => fault.endMs !== undefined)).toBe(true)
    expect(report.convergence.converged).toBe(true)
    expect(report.replay).toContain('--seed 3')
    // The history holds every operation, each completed.
    const parsed = parseHistory(await readFile(history, 'utf8'))
    expect(parsed.operations).toHaveLength(report.operations.total)
    expect(parsed.operations.every((op) => op.outcome !== undefined)).toBe(true)
    expect(parsed.faults).toHaveLength(report.faults.length)
    const svg = await readFile(timeline, 'utf8')
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg).toContain('every check holds')
    // The cluster it started is stopped, its directory kept.
    const status = json(await dyn(['cluster', 'status', '--dir', join(workspace(), 'cluster'), '--json']))
    expect((status.nodes as {state: string}[]).every((node) => node.state === 'stopped')).toBe(true)
  })

  it('refuses bad flags with a usage error', async () => {
    const cases = [['--duration', '1s'], ['--nodes', '2'], ['--nemesis', 'kill,flood'], ['--nemesis', 'lose-unsynced', '--sync', 'always'], ['--clients', '0']]
    const runs = await Promise.all(cases.map((args) => dyn(['check', ...args, '--json'])))
    runs.forEach((run, index) => {
      expect(run.exitCode, `${cases[index]!.join(' ')}: ${run.stdout}${run.stderr}`).toBe(2)
      expect(json(run)).toMatchObject({error: {code: 'USAGE'}})
    })
  })
})
