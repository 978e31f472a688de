// The load generator on a virtual clock and a fake target: the operation mix, the stop
// conditions, contexts carried from one operation to the next, error counting, and the
// coordinated-omission correction of the open loop.
import {describe, expect, it} from 'vitest'
import {BenchRun, benchKey, openLoopDrainMsMax, type BenchOptions, type BenchResult} from '../../src/load/index.js'
import {codedError, FakeTarget, VirtualClock, type FakeTargetOptions} from './fakes.js'

const base: BenchOptions = {
  workload: 'a',
  distribution: 'zipfian',
  keyCount: 100,
  valueBytes: 10,
  concurrency: 4,
  stop: {kind: 'operations', operations: 1000},
  seed: 1,
  load: false,
}

async function bench(options: Partial<BenchOptions>, target: FakeTargetOptions = {serviceMs: 1}, signal?: AbortSignal) {
  const clock = new VirtualClock()
  const fake = new FakeTarget(clock, target)
  const run = new BenchRun({...base, ...options}, {target: fake, clock, ...(signal === undefined ? {} : {signal})})
  const result = await clock.run(() => run.run())
  return {result, fake, clock, run}
}

function total(result: BenchResult): {count: number; errors: number} {
  const {read, update} = result.operations
  return {count: read.count + update.count, errors: read.errors + update.errors}
}

function msAt(histogram: {valueAtPercentile(p: number): number}, percentile: number): number {
  return histogram.valueAtPercentile(percentile) / 1000
}

describe('closed loop', () => {
  it('--ops N sends exactly N operations, in the workload mix, on keys of the key space', async () => {
    for (const [workload, readProportion] of [['a', 0.5], ['b', 0.95], ['c', 1]] as const) {
      const {result, fake} = await bench({workload, stop: {kind: 'operations', operations: 2000}})
      expect(result.issued).toBe(2000)
      expect(fake.sent).toHaveLength(2000)
      expect(total(result)).toEqual({count: 2000, errors: 0})
      expect(result.operations.read.latency.count + result.operations.update.latency.count).toBe(2000)
      const reads = fake.sent.filter((operation) => operation.kind === 'read').length
      expect(result.operations.read.count).toBe(reads)
      // Binomial: the standard deviation of 2000 draws is at most 0.011.
      expect(Math.abs(reads / 2000 - readProportion)).toBeLessThan(0.04)
      const keys = new Set(Array.from({length: base.keyCount}, (_, index) => benchKey(index)))
      for (const operation of fake.sent) expect(keys.has(operation.key)).toBe(true)
      expect(result).toMatchObject({mode: 'closed', stoppedBy: 'operations', unsent: 0})
      expect(result.operations.read.serviceTime).toBeUndefined()
    }
  })

  it('--duration stops sending at the deadline; operations in flight finish and count', async () => {
    const {result, fake} = await bench({concurrency: 4, stop: {kind: 'duration', durationMs: 1000}}, {serviceMs: 10})
    // Each of the 4 workers starts at 0, 10, ..., 990 ms: 100 operations each.
    expect(result.issued).toBe(400)
    expect(fake.sent.every((operation) => operation.atMs < 1000)).toBe(true)
    expect(result.elapsedMs).toBe(1000)
    expect(total(result).count).toBe(400)
    expect(result.stoppedBy).toBe('duration')
    expect(result.operations.read.latency.max).toBe(10_000)
    expect(result.operations.read.latency.min).toBe(10_000)
  })

  it('a seed replays the same operations; another seed does not', async () => {
    const sequence = async (seed: number) => (await bench({seed, concurrency: 1, stop: {kind: 'operations', operations: 300}})).fake.sent.map((operation) => `${operation.kind} ${operation.key}`)
    const first = await sequence(7)
    expect(await sequence(7)).toEqual(first)
    expect(await sequence(8)).not.toEqual(first)
  })

  it('counts failures per code and goes on', async () => {
    const failure = (n: number) => (n % 10 === 3 ? codedError('QUORUM_NOT_MET') : n % 25 === 0 ? codedError('TIMEOUT') : undefined)
    const {result} = await bench({stop: {kind: 'operations', operations: 500}}, {serviceMs: 1, failure})
    const quorum = Array.from({length: 500}, (_, n) => n).filter((n) => n % 10 === 3).length
    const timeout = Array.from({length: 500}, (_, n) => n).filter((n) => n % 10 !== 3 && n % 25 === 0).length
    expect(total(result)).toEqual({count: 500 - quorum - timeout, errors: quorum + timeout})
    const codes = new Map<string, number>()
    for (const stats of [result.operations.read, result.operations.update]) for (const [code, times] of stats.errorCodes) codes.set(code, (codes.get(code) ?? 0) + times)
    expect(Object.fromEntries(codes)).toEqual({QUORUM_NOT_MET: quorum, TIMEOUT: timeout})
    expect(result.operations.read.latency.count + result.operations.update.latency.count).toBe(500 - quorum - timeout)
  })

  it('an error without a code is a bug: the run fails with it', async () => {
    const failure = (n: number) => (n === 5 ? new TypeError('not a function') : undefined)
    await expect(bench({}, {serviceMs: 1, failure})).rejects.toThrow('not a function')
    await expect(bench({rateOpsPerS: 100}, {serviceMs: 1, failure})).rejects.toThrow('not a function')
  })

  it('an abort stops sending; the run reports what it did', async () => {
    const interrupt = new AbortController()
    const clock = new VirtualClock()
    const fake = new FakeTarget(clock, {serviceMs: 10})
    const run = new BenchRun({...base, concurrency: 2, stop: {kind: 'duration', durationMs: 10_000}}, {target: fake, clock, signal: interrupt.signal})
    void clock.sleepUntil(500).then(() => interrupt.abort())
    const result = await clock.run(() => run.run())
    expect(result.stoppedBy).toBe('interrupted')
    expect(result.issued).toBe(100)
    expect(result.elapsedMs).toBe(500)
  })
})

describe('contexts and the load phase', () => {
  it('the load phase reads then writes every key once, and updates carry the last context seen', async () => {
    const {result, fake} = await bench({load: true, keyCount: 50, concurrency: 1, stop: {kind: 'operations', operations: 400}})
    const loading = fake.sent.slice(0, 100)
    expect(loading.map((operation) => `${operation.kind} ${operation.key}`)).toEqual(
      Array.from({length: 50}, (_, index) => [`read ${benchKey(index)}`, `update ${benchKey(index)}`]).flat(),
    )
    expect(result.load).toMatchObject({keys: 50, errors: 0})
    expect(loading.filter((operation) => operation.kind === 'update').map((operation) => operation.context)).toEqual(
      Array.from({length: 50}, (_, index) => `${benchKey(index)}@0`),
    )
    // With one operation at a time, every update carries the last context handed out for its key.
    const updates = fake.sent.filter((operation) => operation.kind === 'update')
    expect(updates.length).toBeGreaterThan(200)
    for (const update of updates) expect(update.context).toBe(update.latest)
    expect(result.operations.read.notFound).toBe(0)
  })

  it('without the load phase, reads of unwritten keys count as not found', async () => {
    const {result, fake} = await bench({workload: 'c', load: false, stop: {kind: 'operations', operations: 200}})
    expect(result.load).toBeUndefined()
    expect(fake.sent.every((operation) => operation.kind === 'read')).toBe(true)
    expect(result.operations.read.notFound).toBe(200)
    expect(result.operations.read.count).toBe(200)
  })

  it('progress reports the phase, what is done and what is left', async () => {
    const clock = new VirtualClock()
    const fake = new FakeTarget(clock, {serviceMs: 10})
    const run = new BenchRun({...base, load: true, keyCount: 40, concurrency: 2, stop: {kind: 'duration', durationMs: 1000}}, {target: fake, clock})
    const samples: ReturnType<BenchRun['progress']>[] = []
    for (const atMs of [110, 605]) void clock.sleepUntil(atMs).then(() => samples.push(run.progress()))
    await clock.run(() => run.run())
    // Load: 40 keys, two at a time, 20 ms each (read + write): done at 400 ms.
    expect(samples[0]).toEqual({phase: 'load', done: 10, total: 40, elapsedMs: 110, durationMs: undefined})
    expect(samples[1]).toEqual({phase: 'run', done: 40, total: undefined, elapsedMs: 205, durationMs: 1000})
  })
})

describe('open loop', () => {
  it('sends each operation at its scheduled time', async () => {
    const {result, fake} = await bench({rateOpsPerS: 200, concurrency: 4, stop: {kind: 'duration', durationMs: 1000}}, {serviceMs: 2})
    expect(result.issued).toBe(200)
    expect(fake.sent.map((operation) => operation.atMs)).toEqual(Array.from({length: 200}, (_, i) => i * 5))
    expect(result).toMatchObject({mode: 'open', unsent: 0, stoppedBy: 'duration'})
    expect(result.operations.read.latency.max).toBe(2000)
    expect(result.operations.read.serviceTime?.max).toBe(2000)
  })

  it('a stall of the target shows in the corrected tail but not in the service-time p99', async () => {
    // 1000 operations at 100/s, 1 ms each, and one 1-second stall at 2 s: about 100 operations
    // are due during the stall. A client that waited would measure one slow sample.
    const stall = {fromMs: 2000, toMs: 3000}
    const {result} = await bench({rateOpsPerS: 100, concurrency: 4, stop: {kind: 'operations', operations: 1000}}, {serviceMs: 1, stall})
    const all = result.operations.read.latency.clone()
    all.merge(result.operations.update.latency)
    const service = result.operations.read.serviceTime!.clone()
    service.merge(result.operations.update.serviceTime!)
    expect(all.count).toBe(1000)
    expect(msAt(all, 50)).toBe(1)
    expect(msAt(all, 99)).toBeGreaterThan(800)
    expect(all.max).toBeGreaterThanOrEqual(990_000)
    expect(msAt(service, 99)).toBe(1)
    expect(service.max).toBeGreaterThanOrEqual(990_000)

    // The same stall in a closed loop (one worker, 1 ms per operation, so the stall comes
    // sooner): it is one slow sample of 1000.
    const closed = await bench({concurrency: 1, stop: {kind: 'operations', operations: 1000}}, {serviceMs: 1, stall: {fromMs: 200, toMs: 1200}})
    const closedAll = closed.result.operations.read.latency.clone()
    closedAll.merge(closed.result.operations.update.latency)
    expect(msAt(closedAll, 99)).toBe(1)
    expect(closedAll.max).toBeGreaterThanOrEqual(990_000)
  })

  it('a target slower than the rate: the backlog shows in the latency, and what was never sent is counted', async () => {
    // Capacity 20/s (one in flight, 50 ms each) against 100/s for one second.
    const {result, fake} = await bench({rateOpsPerS: 100, concurrency: 1, stop: {kind: 'duration', durationMs: 1000}}, {serviceMs: 50})
    const drainEndMs = 1000 + openLoopDrainMsMax
    expect(fake.sent.every((operation) => operation.atMs <= drainEndMs)).toBe(true)
    expect(result.issued).toBe(Math.ceil(drainEndMs / 50))
    expect(result.issued + result.unsent).toBe(100)
    const latency = result.operations.read.latency.clone()
    latency.merge(result.operations.update.latency)
    expect(latency.max / 1000).toBeGreaterThan(1000)
    expect(result.operations.read.serviceTime?.max).toBe(50_000)
  })

  it('--ops N in an open loop sends N operations however late', async () => {
    const {result} = await bench({rateOpsPerS: 1000, concurrency: 2, stop: {kind: 'operations', operations: 300}}, {serviceMs: 10})
    expect(result.issued).toBe(300)
    expect(result.unsent).toBe(0)
    expect(total(result).count).toBe(300)
  })
})
