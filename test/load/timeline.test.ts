// Throughput over time (src/load/timeline.ts) against a reference model, and as the load
// generator fills it on a virtual clock: every answer counted once, in the interval of the
// time it came, with at most timelineIntervalsMax intervals however long the run.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {BenchRun, Timeline, timelineIntervalMsMin, timelineIntervalsMax, type BenchOptions} from '../../src/load/index.js'
import {codedError, FakeTarget, VirtualClock} from './fakes.js'

const sum = (counts: readonly number[]): number => counts.reduce((total, count) => total + count, 0)

describe('Timeline', () => {
  it('counts each answer in the interval of its time, doubling the interval to stay within the limit (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({min: 0, max: 10_000}),
        fc.array(fc.record({afterMs: fc.double({min: 0, max: 5_000_000, noNaN: true}), ok: fc.boolean()}), {maxLength: 300}),
        (startMs, answers) => {
          const timeline = new Timeline(startMs)
          for (const answer of answers) timeline.record(startMs + answer.afterMs, answer.ok)
          const {intervalMs, ok, errors} = timeline.result()
          expect(ok.length).toBe(errors.length)
          expect(ok.length).toBeLessThanOrEqual(timelineIntervalsMax)
          expect(Math.log2(intervalMs / timelineIntervalMsMin) % 1).toBe(0)
          // The reference: count the answers of each interval directly.
          const expected = (succeeded: boolean): number[] => {
            const counts = Array.from({length: ok.length}, () => 0)
            for (const answer of answers) if (answer.ok === succeeded) counts[Math.floor(answer.afterMs / intervalMs)]!++
            return counts
          }
          expect(ok).toEqual(expected(true))
          expect(errors).toEqual(expected(false))
          // No coarser than needed: half the interval would not have held the last answer.
          const lastMs = Math.max(0, ...answers.map((answer) => answer.afterMs))
          if (intervalMs > timelineIntervalMsMin) expect(Math.floor(lastMs / (intervalMs / 2))).toBeGreaterThanOrEqual(timelineIntervalsMax)
        },
      ),
      {numRuns: 200},
    )
  })

  it('keeps answers before its start (a clock read a moment early) in the first interval', () => {
    const timeline = new Timeline(1000)
    timeline.record(999.5, true)
    expect(timeline.result().ok).toEqual([1])
  })
})

describe('the load generator’s timeline', () => {
  const base: BenchOptions = {workload: 'a', distribution: 'uniform', keyCount: 50, valueBytes: 8, concurrency: 2, stop: {kind: 'duration', durationMs: 2000}, seed: 3, load: false}

  it('a closed loop of 2 s at 10 ms per operation: 20 answers per 100 ms, errors apart', async () => {
    const clock = new VirtualClock()
    const target = new FakeTarget(clock, {serviceMs: 10, failure: (n) => (n % 10 === 9 ? codedError('TIMEOUT') : undefined)})
    const result = await clock.run(() => new BenchRun(base, {target, clock}).run())
    const {intervalMs, ok, errors} = result.timeline
    expect(intervalMs).toBe(100)
    expect(sum(ok)).toBe(result.operations.read.count + result.operations.update.count)
    expect(sum(errors)).toBe(result.operations.read.errors + result.operations.update.errors)
    expect(ok.slice(1, 19).every((count, index) => count + errors[index + 1]! === 20)).toBe(true)
  })

  it('an open loop that stalls shows the stall as an empty interval and the backlog after it', async () => {
    const clock = new VirtualClock()
    const target = new FakeTarget(clock, {serviceMs: 1, stall: {fromMs: 500, toMs: 800}})
    const result = await clock.run(() => new BenchRun({...base, concurrency: 1000, rateOpsPerS: 1000, stop: {kind: 'duration', durationMs: 1500}}, {target, clock}).run())
    const {ok} = result.timeline
    expect(sum(ok)).toBe(1500)
    expect(ok[6]).toBe(0)
    expect(ok[8]).toBeGreaterThan(200)
  })
})
