// `dyn check` when a check fails, on real processes: four clients share one key, so their
// read-modify-writes race and reads see siblings, and `--siblings-max 1` makes the bound one
// those reads break. The run must exit 1, name the violated check in its summary, and print
// a replay command with the seed it chose (none is given, as when a person runs it).
// However the run ends, the cleanup kills every node process the cluster file names.
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseHistory} from '../../src/check/index.js'
import {checkWorkspace} from './check-workspace.js'
import {dyn} from '../commands/helpers.js'

const workspace = checkWorkspace('dyn-check-fails-')

describe('dyn check, failing', () => {
  it('exits 1 when reads break --siblings-max, names the check and prints a replay command with its seed', {timeout: 80_000}, async () => {
    const history = join(workspace(), 'history.jsonl')
    const cluster = join(workspace(), 'cluster')
    const run = await dyn(
      ['check', '--duration', '5s', '--clients', '4', '--keys', '1', '--nemesis', 'none', '--siblings-max', '1', '--converge-timeout', '20s', '--dir', cluster, '--history', history, '--timeline', join(workspace(), 'timeline.svg')],
      {timeoutMs: 60_000},
    )
    const shown = `exit ${run.exitCode}\n${run.stdout}\n${run.stderr}`
    expect(run.exitCode, shown).toBe(1)
    const lines = run.stdout.split('\n')
    const verdict = /^dyn check, seed (\d+): FAILED$/.exec(lines[0] ?? '')
    expect(verdict, shown).not.toBeNull()
    const seed = verdict![1]!

    // The violated check, and only it: the store kept its contract.
    expect(run.stdout).toMatch(/^FAIL {2}siblings bounded \(\d+\)$/m)
    for (const name of ['no acknowledged write lost', 'reads return written values', 'one dot names one write', 'replicas equal']) expect(run.stdout).toMatch(new RegExp(`^ok {4}${name}$`, 'm'))
    const listed = [...run.stdout.matchAll(/^ {2}\[siblings bounded\] key k0: op(\d+) get returned (\d+) siblings \(bound 1\)$/gm)]
    expect(listed.length, shown).toBeGreaterThan(0)

    // The violations are reads the history holds, each with more siblings than the bound.
    const operations = new Map(parseHistory(await readFile(history, 'utf8')).operations.map((op) => [op.id, op]))
    for (const [, id, count] of listed) {
      const op = operations.get(Number(id))
      expect(op, `op${id}`).toMatchObject({kind: 'get', outcome: 'ok'})
      expect(op!.siblings).toHaveLength(Number(count))
      expect(Number(count)).toBeGreaterThan(1)
    }
    const overBound = [...operations.values()].filter((op) => op.kind === 'get' && op.outcome === 'ok' && (op.siblings?.length ?? 0) > 1).length
    const counted = Number(/^FAIL {2}siblings bounded \((\d+)\)$/m.exec(run.stdout)![1])
    // Every read over the bound, plus at most one final copy per replica of the one key.
    expect(counted).toBeGreaterThanOrEqual(overBound)
    expect(counted).toBeLessThanOrEqual(overBound + 3)
    const readMax = Number(/^siblings {6}at most (\d+) in a read/m.exec(run.stdout)?.[1])
    expect(readMax).toBe(Math.max(...[...operations.values()].map((op) => op.siblings?.length ?? 0)))

    // The replay command: the seed the run chose and the flags that make it fail again.
    const replay = lines.find((line) => line.startsWith('replay    '))?.slice('replay    '.length)
    expect(replay, shown).toBeDefined()
    expect(replay).toMatch(new RegExp(`^dyn check --seed ${seed} `))
    for (const flag of ['--duration 5s', '--clients 4', '--keys 1', '--nemesis none', '--siblings-max 1', '--converge-timeout 20s']) expect(replay).toContain(flag)
    expect(run.stderr.split('\n')[0]).toBe(`dyn check: seed ${seed} (replay: ${replay})`)
  })
})
