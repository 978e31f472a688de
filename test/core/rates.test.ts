// Rates and quantiles from two readings (core/rates.ts) against simple models: a counter as
// the list of what happened to it (increments and resets), a histogram as the list of its
// observations; and the exposition parser (core/exposition.ts) against what the daemon's
// metrics render.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {parseExposition, parseSampleLine, sumOf, valueOf} from '../../src/core/exposition.js'
import {counterIncrease, histogramIncrease, histogramOf, histogramQuantile, perSecond, type CumulativeHistogram} from '../../src/core/rates.js'
import {latencyBucketsSeconds, Metrics} from '../../src/daemon/metrics.js'

type Event = {readonly kind: 'inc'; readonly by: number} | {readonly kind: 'reset'}

const increment = fc.integer({min: 0, max: 1_000}).map((by): Event => ({kind: 'inc', by}))
const reset = fc.constant<Event>({kind: 'reset'})

/** The counter's value after `events`, starting at `start`. */
function replay(start: number, events: readonly Event[]): number {
  return events.reduce((value, event) => (event.kind === 'reset' ? 0 : value + event.by), start)
}

function sum(events: readonly Event[]): number {
  return events.reduce((total, event) => total + (event.kind === 'inc' ? event.by : 0), 0)
}

describe('counterIncrease', () => {
  it('is exactly what was counted between two readings of a counter that was not reset', () => {
    fc.assert(
      fc.property(fc.nat({max: 1e12}), fc.array(increment, {maxLength: 50}), (start, events) => {
        expect(counterIncrease(start, replay(start, events))).toBe(sum(events))
      }),
    )
  })

  it('after a restart, is what was counted since the last reset: never negative, never more than happened', () => {
    fc.assert(
      fc.property(fc.nat({max: 1e9}), fc.array(fc.oneof(increment, reset), {maxLength: 50}), fc.boolean(), (start, events, restartKnown) => {
        const current = replay(start, events)
        const lastReset = events.map((event) => event.kind).lastIndexOf('reset')
        const restarted = restartKnown && lastReset >= 0
        const increase = counterIncrease(start, current, {restarted})
        expect(increase).toBeGreaterThanOrEqual(0)
        expect(increase).toBeLessThanOrEqual(sum(events))
        // A known restart, or a counter below its last reading: counted from zero since.
        if (restarted || current < start) expect(increase).toBe(sum(events.slice(lastReset + 1)))
        if (lastReset < 0) expect(increase).toBe(sum(events))
      }),
    )
  })

  it('ignores readings that are not numbers', () => {
    expect(counterIncrease(Number.NaN, 5)).toBe(0)
    expect(counterIncrease(5, Number.POSITIVE_INFINITY)).toBe(0)
  })
})

describe('perSecond', () => {
  it('divides by the elapsed seconds, and has no value when no time passed', () => {
    fc.assert(
      fc.property(fc.nat({max: 1e9}), fc.integer({min: 1, max: 3_600_000}), (increase, elapsedMs) => {
        const rate = perSecond(increase, elapsedMs)!
        // The rate times the seconds gives back the increase (to a relative 1e-12).
        expect(Math.abs((rate * elapsedMs) / 1000 - increase)).toBeLessThanOrEqual(1e-12 * Math.max(1, increase))
      }),
    )
    expect(perSecond(5, 0)).toBeUndefined()
    expect(perSecond(5, -1)).toBeUndefined()
  })
})

// ---- histograms ----

const bounds: readonly number[] = latencyBucketsSeconds
/** Latencies in seconds: anywhere, above the last bound too, and exactly on bounds (a value
 * equal to a bound belongs to that bucket). */
const observation = fc.oneof(fc.double({min: 0, max: 10, noNaN: true}), fc.constantFrom(...bounds), fc.double({min: 0, max: 0.01, noNaN: true}))
const observations = fc.array(observation, {maxLength: 200})
const quantile = fc.oneof(fc.constantFrom(0.5, 0.9, 0.99, 0.999, 1), fc.double({min: 0.001, max: 1, noNaN: true}))

/** The model: a histogram built straight from its observations. */
function histogramFrom(values: readonly number[], upper: readonly number[] = bounds): CumulativeHistogram {
  return {bounds: upper, cumulative: upper.map((bound) => values.filter((value) => value <= bound).length), count: values.length}
}

/** Index of the bucket holding `value`; bounds.length for above the last bound. */
function bucketOf(value: number, upper: readonly number[] = bounds): number {
  const index = upper.findIndex((bound) => value <= bound)
  return index < 0 ? upper.length : index
}

describe('histogramIncrease', () => {
  it('of two readings is the histogram of the observations between them', () => {
    fc.assert(
      fc.property(observations, observations, (before, after) => {
        expect(histogramIncrease(histogramFrom(before), histogramFrom([...before, ...after]))).toEqual(histogramFrom(after))
      }),
    )
  })

  it('after a reset is the whole current reading', () => {
    fc.assert(
      fc.property(observations, observations, fc.boolean(), (before, since, restartKnown) => {
        fc.pre(restartKnown || since.length < before.length)
        const current = histogramFrom(since)
        expect(histogramIncrease(histogramFrom(before), current, {restarted: restartKnown})).toEqual(current)
      }),
    )
    const current = histogramFrom([0.001])
    expect(histogramIncrease(undefined, current)).toEqual(current)
    expect(histogramIncrease(histogramFrom([0.001], [1, 2]), current)).toEqual(current)
  })
})

describe('histogramQuantile', () => {
  it('falls inside the bucket of the observation of that rank, and at the last bound above it', () => {
    fc.assert(
      fc.property(observations, quantile, (values, q) => {
        fc.pre(values.length > 0)
        const sorted = [...values].sort((a, b) => a - b)
        const rank = Math.max(1, Math.ceil(q * values.length))
        const bucket = bucketOf(sorted[rank - 1]!)
        const estimate = histogramQuantile(histogramFrom(values), q)!
        if (bucket === bounds.length) {
          expect(estimate).toBe(bounds.at(-1))
        } else {
          expect(estimate).toBeGreaterThanOrEqual((bucket === 0 ? 0 : bounds[bucket - 1]!) - 1e-12)
          expect(estimate).toBeLessThanOrEqual(bounds[bucket]! + 1e-12)
        }
      }),
    )
  })

  it('grows with q', () => {
    fc.assert(
      fc.property(observations, quantile, quantile, (values, a, b) => {
        fc.pre(values.length > 0)
        const histogram = histogramFrom(values)
        const [low, high] = a <= b ? [a, b] : [b, a]
        expect(histogramQuantile(histogram, low)!).toBeLessThanOrEqual(histogramQuantile(histogram, high)! + 1e-12)
      }),
    )
  })

  it('has no value without observations or for q outside (0, 1]', () => {
    expect(histogramQuantile(histogramFrom([]), 0.5)).toBeUndefined()
    expect(histogramQuantile(histogramFrom([0.001]), 0)).toBeUndefined()
    expect(histogramQuantile(histogramFrom([0.001]), 1.5)).toBeUndefined()
  })

  it('interpolates inside a bucket as Prometheus does', () => {
    // 4 observations in (0.001, 0.0025]: the median is halfway through that bucket.
    expect(histogramQuantile(histogramFrom([0.002, 0.002, 0.002, 0.002]), 0.5)).toBeCloseTo(0.00175, 12)
  })
})

// ---- the exposition, as the daemon renders it ----

describe('parseExposition', () => {
  it('reads back the requests and histograms the daemon recorded', () => {
    const types = ['kv.get', 'kv.put', 'replica.put'] as const
    const outcomes = ['ok', 'QUORUM_NOT_MET', 'BAD_REQUEST'] as const
    const record = fc.record({type: fc.constantFrom(...types), outcome: fc.constantFrom(...outcomes), seconds: observation})
    fc.assert(
      fc.property(fc.array(record, {maxLength: 100}), (records) => {
        const metrics = new Metrics()
        for (const {type, outcome, seconds} of records) metrics.record(type, outcome, seconds)
        const {samples, malformedLines} = parseExposition(metrics.render([{name: 'dyn_store_keys', help: 'Keys.', value: 42}]))
        expect(malformedLines).toBe(0)
        expect(valueOf(samples, 'dyn_store_keys')).toBe(42)
        for (const type of types) {
          const mine = records.filter((entry) => entry.type === type)
          expect(sumOf(samples, 'dyn_requests_total', {type})).toBe(mine.length)
          expect(sumOf(samples, 'dyn_quorum_failures_total', {type})).toBe(mine.filter((entry) => entry.outcome === 'QUORUM_NOT_MET').length)
          const histogram = histogramOf(samples, 'dyn_request_duration_seconds', {type})
          if (mine.length === 0) expect(histogram).toBeUndefined()
          else expect(histogram).toEqual(histogramFrom(mine.map((entry) => entry.seconds)))
        }
      }),
    )
  })

  it('reads label values with escaped quotes, backslashes and newlines, and skips what does not parse', () => {
    const escape = (text: string): string => text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    fc.assert(
      fc.property(fc.string({unit: fc.constantFrom('a', 'z', '"', '\\', '\n', ' ', '{', '}', ',', '=', 'é')}), fc.double({noNaN: true, noDefaultInfinity: true}).map((value) => (value === 0 ? 0 : value)), (label, value) => {
        const parsed = parseSampleLine(`dyn_x{a="${escape(label)}",b="2"} ${value}`)
        expect(parsed).toEqual({name: 'dyn_x', labels: {a: label, b: '2'}, value})
      }),
    )
    const {samples, malformedLines} = parseExposition('# HELP x y\n\nok 1\nbad{a="1" 2\nno_value\nstamped 3 1700000000000\ninf +Inf\n')
    expect(samples).toEqual([
      {name: 'ok', labels: {}, value: 1},
      {name: 'stamped', labels: {}, value: 3},
      {name: 'inf', labels: {}, value: Number.POSITIVE_INFINITY},
    ])
    expect(malformedLines).toBe(2)
  })
})
