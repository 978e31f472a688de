// `dyn bench` as a real process against a real local cluster of three nodes: the JSON of a
// closed-loop and an open-loop run (counts that add up, ordered percentiles), the text
// report, and exit code 2 for flags out of range.
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {isAlive} from '../../src/cluster/index.js'
import type {LatencyJson} from '../../src/render/index.js'
import {dyn, json, randomBasePort, type Run} from './helpers.js'

let dir: string
/** Wire ports base..base+2, HTTP ports 1000 above; random so parallel runs do not collide. */
const basePort = randomBasePort()
const pids: number[] = []
/** Runs refused before they reach a cluster, started while the cluster starts: each process
 * spends seconds loading the sources, and the test set must stay short. */
let refused: Promise<Run[]>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-bench-'))
  refused = Promise.all([
    dyn(['bench', '--dir', dir, '--workload', 'x', '--json']),
    dyn(['bench', '--dir', dir, '--concurrency', '0', '--duration', '5 fortnights']),
  ])
  const up = await dyn(['cluster', 'up', '--dir', dir, '--base-port', String(basePort), '--json'], {timeoutMs: 60_000})
  expect(up.exitCode, up.stderr + up.stdout).toBe(0)
  for (const node of (json(up) as {nodes: {pid: number}[]}).nodes) pids.push(node.pid)
})

afterAll(async () => {
  await dyn(['cluster', 'down', '--dir', dir]).catch(() => undefined)
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  await rm(dir, {recursive: true, force: true})
})


interface Operation {
  count: number
  errors: number
  opsPerSecond: number
  latencyMs: LatencyJson | null
  serviceMs?: LatencyJson | null
}

interface Shape {
  version: number
  mode: string
  issued: number
  unsent: number
  load: {keys: number} | null
  cluster: {name: string; n: number; r: number; w: number}
  operations: {read: Operation; update: Operation; all: Operation}
  errors: Record<string, number>
}

function expectShape(run: Run): Shape {
  expect(run.exitCode, run.stderr + run.stdout).toBe(0)
  const shape = json(run) as unknown as Shape
  const {read, update, all} = shape.operations
  expect(read.count + update.count).toBe(all.count)
  expect(read.errors + update.errors).toBe(all.errors)
  expect(all.count + all.errors).toBe(shape.issued)
  expect(Object.values(shape.errors).reduce((sum, times) => sum + times, 0)).toBe(all.errors)
  expect(all.count).toBeGreaterThan(0)
  for (const latency of [all.latencyMs, all.serviceMs]) {
    if (latency === undefined) continue
    expect(latency).not.toBeNull()
    const ordered = [latency!.min, latency!.p50, latency!.p90, latency!.p99, latency!.p999, latency!.max]
    expect([...ordered].sort((a, b) => a - b)).toEqual(ordered)
    expect(latency!.min).toBeGreaterThan(0)
  }
  return shape
}

describe('dyn bench on a local cluster', () => {
  it('closed loop --ops, open loop --rate (JSON), the text report; --r above N exits 2', async () => {
    const [closed, open, text, quorum] = await Promise.all([
      dyn(['bench', '--dir', dir, '--ops', '300', '--keys', '100', '--concurrency', '8', '--seed', '1', '--json']),
      dyn(['bench', '--dir', dir, '--workload', 'B', '--distribution', 'uniform', '--rate', '100', '--duration', '1s', '--no-load', '--json']),
      dyn(['bench', '--dir', dir, '--workload', 'c', '--ops', '50', '--keys', '20', '--html', join(dir, 'bench.html')]),
      dyn(['bench', '--dir', dir, '--r', '4', '--ops', '1', '--json']),
    ])
    const closedShape = expectShape(closed)
    expect(closedShape).toMatchObject({version: 1, mode: 'closed', issued: 300, unsent: 0, load: {keys: 100}, cluster: {name: 'dyn', n: 3, r: 2, w: 2}})
    expect(closedShape.operations.all).not.toHaveProperty('serviceMs')

    const openShape = expectShape(open)
    expect(openShape).toMatchObject({mode: 'open', load: null})
    expect(openShape.issued + openShape.unsent).toBe(100)
    expect(openShape.operations.all.serviceMs).not.toBeNull()

    expect(text.exitCode, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^workload C \(read only\), zipfian keys over 20, 100-byte values$/m)
    expect(text.stdout).toMatch(/^run: 50 operations in /m)
    expect(text.stdout).toMatch(/│ all +│ +50 │ +0 │/)
    // No terminal: no progress bar; the page written is named on stderr.
    expect(text.stderr.trim()).toBe(`wrote ${join(dir, 'bench.html')}`)
    const page = await readFile(join(dir, 'bench.html'), 'utf8')
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true)
    expect(page).toContain('throughput over time')

    expect(quorum.exitCode, quorum.stdout + quorum.stderr).toBe(2)
    expect(json(quorum)).toMatchObject({error: {code: 'USAGE', message: '--r 4 is not allowed: the cluster keeps N=3 replicas'}})
  })

  it('flags out of range exit 2 with a message naming what is allowed', async () => {
    const runs = await refused
    for (const run of runs) expect(run.exitCode, run.stdout + run.stderr).toBe(2)
    const [workload, text] = runs as [Run, Run]
    expect(json(workload)).toMatchObject({version: 1, error: {code: 'USAGE', exitCode: 2, message: expect.stringContaining('x is not allowed: give one of a, b, c')}})
    expect(text.stderr).toMatch(/0 is not allowed: give a whole number from 1 to 1024|"5 fortnights" is not a duration/)
    expect(text.stdout).toBe('')
  })
})
