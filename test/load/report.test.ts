// The report of a run (render/bench.ts) from runs on the fake target: the JSON shape's
// counts and percentiles, the combined row, and the text tables.
import {describe, expect, it} from 'vitest'
import {BenchRun, type BenchOptions} from '../../src/load/index.js'
import {benchJson, benchText} from '../../src/render/index.js'
import {codedError, FakeTarget, VirtualClock} from './fakes.js'

const cluster = {name: 'dyn', n: 3, r: 2, w: 2}
const options: BenchOptions = {
  workload: 'a',
  distribution: 'zipfian',
  keyCount: 50,
  valueBytes: 10,
  concurrency: 4,
  stop: {kind: 'operations', operations: 1000},
  seed: 9,
  load: true,
}

async function report(overrides: Partial<BenchOptions>) {
  const clock = new VirtualClock()
  // Service times of 1..5 ms in turn; every 50th operation fails.
  let n = 0
  const fake = new FakeTarget(clock, {serviceMs: 0, failure: (i) => (i % 50 === 49 ? codedError(i % 100 === 99 ? 'TIMEOUT' : 'QUORUM_NOT_MET') : undefined)})
  const slow = {
    read: async (key: string) => {
      await clock.sleep(1 + (n++ % 5))
      return fake.read(key)
    },
    update: async (key: string, value: Uint8Array, context: string | undefined) => {
      await clock.sleep(1 + (n++ % 5))
      return fake.update(key, value, context)
    },
  }
  const result = await clock.run(() => new BenchRun({...options, ...overrides}, {target: slow, clock}).run())
  return {...result, cluster}
}

describe('the JSON shape of dyn bench', () => {
  it('counts add up, the all row merges the kinds, percentiles are ordered', async () => {
    const shape = benchJson(await report({}))
    const {read, update, all} = shape.operations
    expect(shape).toMatchObject({version: 1, workload: 'a', readProportion: 0.5, mode: 'closed', rate: null, operationsAsked: 1000, durationMs: null, stoppedBy: 'operations', issued: 1000, unsent: 0, cluster})
    expect(read.count + update.count).toBe(all.count)
    expect(read.errors + update.errors).toBe(all.errors)
    expect(all.count + all.errors).toBe(1000)
    expect(all.errors).toBeGreaterThan(0)
    expect(Object.values(shape.errors).reduce((sum, times) => sum + times, 0)).toBe(all.errors)
    expect(Object.keys(shape.errors)).toEqual(['QUORUM_NOT_MET', 'TIMEOUT'])
    expect(shape.load).toMatchObject({keys: 50})
    for (const operation of [read, update, all]) {
      const latency = operation.latencyMs!
      expect(latency.min).toBeGreaterThanOrEqual(1)
      expect(latency.max).toBeLessThanOrEqual(5)
      const ordered = [latency.min, latency.p50, latency.p90, latency.p99, latency.p999, latency.max]
      expect([...ordered].sort((a, b) => a - b)).toEqual(ordered)
      expect(operation).not.toHaveProperty('serviceMs')
    }
    expect(all.opsPerSecond).toBeCloseTo((all.count * 1000) / shape.elapsedMs, 0)
  })

  it('an open loop adds service times; a kind with no operation has null latencies', async () => {
    const shape = benchJson(await report({workload: 'c', rateOpsPerS: 500, stop: {kind: 'duration', durationMs: 1000}}))
    expect(shape).toMatchObject({mode: 'open', rate: 500, durationMs: 1000, operationsAsked: null})
    expect(shape.operations.update).toEqual({count: 0, errors: 0, opsPerSecond: 0, latencyMs: null, serviceMs: null})
    expect(shape.operations.read.serviceMs!.max).toBeLessThanOrEqual(shape.operations.read.latencyMs!.max)
  })
})

describe('the text of dyn bench', () => {
  it('a table per latency measure, with a row per kind and one for all', async () => {
    const closed = benchText(await report({}), {color: false})
    expect(closed).toMatch(/^workload A \(update heavy: 50% reads, 50% updates\), zipfian keys over 50, 10-byte values$/m)
    expect(closed).toMatch(/closed loop, concurrency 4, for 1,000 operations; cluster dyn N=3 R=2 W=2; seed 9/)
    expect(closed).toMatch(/│ op +│ +ok │ errors │ ops\/s │ p50 ms │ p90 ms │ p99 ms │ p99\.9 ms │ max ms │/)
    expect(closed).toMatch(/│ all +│/)
    expect(closed).toMatch(/^errors: QUORUM_NOT_MET \d+, TIMEOUT \d+$/m)
    const open = benchText(await report({rateOpsPerS: 500, stop: {kind: 'duration', durationMs: 1000}}), {color: false})
    expect(open).toContain('service time (from sending to answer')
    expect(open.match(/│ read /g)).toHaveLength(2)
  })
})
