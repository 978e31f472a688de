// The HDR histogram against a sorted array of every recorded value: percentiles within the
// relative error of the chosen precision, count/min/max exact, merging the same as recording
// everything in one, and the coordinated-omission back-fill the same as HdrHistogram's loop.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {Histogram} from '../../src/core/histogram.js'

const highest = 60_000_000 // 60 s in microseconds

/** The nearest-rank percentile of sorted values: the ceil(p/100 · n)-th smallest, computed
 * on integers (p given in thousandths of a percent). */
function modelPercentile(sorted: readonly number[], milliPercent: number): number {
  const rank = Math.max(1, Math.ceil((milliPercent * sorted.length) / 100_000))
  return sorted[rank - 1]!
}

function recordAll(values: readonly number[], options: {digits?: number; highestValue?: number} = {}): Histogram {
  const histogram = new Histogram({highestTrackableValue: options.highestValue ?? highest, significantDigits: options.digits ?? 3})
  for (const value of values) histogram.record(value)
  return histogram
}

/** Latency-like values: mostly small, some spread over the whole range. */
const value = fc.oneof(fc.integer({min: 0, max: 5_000}), fc.integer({min: 0, max: highest}))
const values = fc.array(value, {minLength: 1, maxLength: 300})
const milliPercent = fc.oneof(fc.constantFrom(0, 50_000, 90_000, 99_000, 99_900, 100_000), fc.integer({min: 0, max: 100_000}))

describe('Histogram', () => {
  it('reads back percentiles within the relative error of its significant digits', () => {
    fc.assert(
      fc.property(values, fc.integer({min: 1, max: 5}), fc.array(milliPercent, {minLength: 1, maxLength: 8}), (recorded, digits, percents) => {
        const histogram = recordAll(recorded, {digits})
        const sorted = [...recorded].sort((a, b) => a - b)
        for (const percent of percents) {
          const expected = modelPercentile(sorted, percent)
          const actual = histogram.valueAtPercentile(percent / 1000)
          expect(actual).toBeGreaterThanOrEqual(expected)
          expect(actual - expected).toBeLessThanOrEqual(expected / 10 ** digits)
        }
      }),
      {numRuns: 200},
    )
  })

  it('keeps count, min, max and mean exact', () => {
    fc.assert(
      fc.property(values, (recorded) => {
        const histogram = recordAll(recorded)
        expect(histogram.count).toBe(recorded.length)
        expect(histogram.min).toBe(Math.min(...recorded))
        expect(histogram.max).toBe(Math.max(...recorded))
        expect(histogram.mean).toBeCloseTo(recorded.reduce((sum, v) => sum + v, 0) / recorded.length, 6)
        expect(histogram.valueAtPercentile(100)).toBe(histogram.max)
        expect(histogram.valueAtPercentile(0)).toBe(histogram.min)
      }),
    )
  })

  it('record(v, n) is n times record(v)', () => {
    fc.assert(
      fc.property(value, fc.integer({min: 1, max: 50}), (v, times) => {
        const once = new Histogram({highestTrackableValue: highest})
        once.record(v, times)
        const repeated = recordAll(Array.from({length: times}, () => v))
        for (const percent of [0, 25, 50, 99, 100]) expect(once.valueAtPercentile(percent)).toBe(repeated.valueAtPercentile(percent))
        expect([once.count, once.min, once.max, once.mean]).toEqual([repeated.count, repeated.min, repeated.max, repeated.mean])
      }),
    )
  })

  it('merging two histograms is recording all their values in one', () => {
    fc.assert(
      fc.property(values, values, (left, right) => {
        const merged = recordAll(left)
        merged.merge(recordAll(right))
        const together = recordAll([...left, ...right])
        expect([merged.count, merged.min, merged.max]).toEqual([together.count, together.min, together.max])
        expect(merged.mean).toBeCloseTo(together.mean, 6)
        for (let percent = 0; percent <= 100; percent += 2.5) expect(merged.valueAtPercentile(percent)).toBe(together.valueAtPercentile(percent))
      }),
      {numRuns: 100},
    )
  })

  it('clone is independent of the original', () => {
    const original = recordAll([1, 2, 3])
    const copy = original.clone()
    copy.record(1_000_000)
    expect(original.count).toBe(3)
    expect(original.max).toBe(3)
    expect(copy.count).toBe(4)
  })

  it('is exact below 2·10^digits and keeps each slot within 10^-digits of its values', () => {
    const histogram = new Histogram({highestTrackableValue: highest})
    for (let v = 0; v < 2000; v++) expect([histogram.lowestEquivalentValue(v), histogram.highestEquivalentValue(v)]).toEqual([v, v])
    fc.assert(
      fc.property(fc.integer({min: 1, max: highest}), (v) => {
        const low = histogram.lowestEquivalentValue(v)
        const high = histogram.highestEquivalentValue(v)
        expect(low).toBeLessThanOrEqual(v)
        expect(high).toBeGreaterThanOrEqual(v)
        expect(high - low).toBeLessThanOrEqual(low / 1000)
      }),
    )
  })

  it('counts values above its range in the top slot and keeps the max exact', () => {
    const histogram = new Histogram({highestTrackableValue: 1_000_000})
    histogram.record(10)
    histogram.record(5_000_000)
    histogram.record(7_000_000)
    expect(histogram.clampedCount).toBe(2)
    expect(histogram.count).toBe(3)
    expect(histogram.max).toBe(7_000_000)
    expect(histogram.valueAtPercentile(50)).toBeGreaterThanOrEqual(1_000_000 * (1 - 1e-3))
    expect(histogram.valueAtPercentile(50)).toBeLessThanOrEqual(histogram.max)
    expect(histogram.valueAtPercentile(100)).toBe(7_000_000)
  })

  it('an empty histogram reads zeros', () => {
    const histogram = new Histogram({highestTrackableValue: highest})
    expect([histogram.count, histogram.min, histogram.max, histogram.mean, histogram.valueAtPercentile(99)]).toEqual([0, 0, 0, 0, 0])
  })

  it('refuses what is not a value or a configuration', () => {
    const histogram = new Histogram({highestTrackableValue: highest})
    expect(() => histogram.record(-1)).toThrow(/non-negative integer/)
    expect(() => histogram.record(1.5)).toThrow(/non-negative integer/)
    expect(() => histogram.valueAtPercentile(101)).toThrow(/percentile/)
    expect(() => new Histogram({highestTrackableValue: highest, significantDigits: 6})).toThrow(/significantDigits/)
    expect(() => new Histogram({highestTrackableValue: 1})).toThrow(/highestTrackableValue/)
    expect(() => histogram.merge(new Histogram({highestTrackableValue: highest, significantDigits: 2}))).toThrow(/same/)
  })
})

describe('recordCorrected (coordinated-omission back-fill)', () => {
  /** HdrHistogram's recordValueWithExpectedInterval, one value at a time. */
  function naive(recorded: readonly number[], interval: number, highestValue: number): Histogram {
    const histogram = new Histogram({highestTrackableValue: highestValue})
    for (const v of recorded) {
      histogram.record(v)
      if (interval <= 0) continue
      for (let missing = v - interval; missing >= interval; missing -= interval) histogram.record(missing)
    }
    return histogram
  }

  it('records the same values as HdrHistogram one value at a time', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({min: 0, max: 500_000}), {minLength: 1, maxLength: 20}),
        fc.oneof(fc.constant(0), fc.integer({min: 200, max: 50_000})),
        fc.constantFrom(100_000, highest),
        (recorded, interval, highestValue) => {
          const fast = new Histogram({highestTrackableValue: highestValue})
          for (const v of recorded) fast.recordCorrected(v, interval)
          const model = naive(recorded, interval, highestValue)
          expect([fast.count, fast.min, fast.max, fast.clampedCount]).toEqual([model.count, model.min, model.max, model.clampedCount])
          expect(fast.mean).toBeCloseTo(model.mean, 6)
          for (let percent = 0; percent <= 100; percent += 5) expect(fast.valueAtPercentile(percent)).toBe(model.valueAtPercentile(percent))
        },
      ),
      {numRuns: 100},
    )
  })

  it('back-fills a long stall at a short interval in time proportional to the slots, not the values', () => {
    const histogram = new Histogram({highestTrackableValue: highest})
    histogram.recordCorrected(60_000_000, 1)
    expect(histogram.count).toBe(60_000_000)
    expect(histogram.min).toBe(1)
    expect(histogram.valueAtPercentile(50)).toBeGreaterThanOrEqual(30_000_000)
    expect(histogram.valueAtPercentile(50)).toBeLessThanOrEqual(30_000_000 * 1.001)
    expect(histogram.mean).toBeCloseTo(30_000_000.5, 3)
  })

  it('a one-second stall at a 10 ms interval adds the 99 answers that were never asked for', () => {
    const histogram = new Histogram({highestTrackableValue: highest})
    for (let i = 0; i < 900; i++) histogram.record(1_000)
    histogram.recordCorrected(1_000_000, 10_000)
    expect(histogram.count).toBe(900 + 1 + 99)
    expect(histogram.valueAtPercentile(50)).toBe(1_000)
    // Uncorrected, p99 of these 901 values would be 1 ms; the back-fill puts it near 900 ms.
    expect(histogram.valueAtPercentile(99)).toBeGreaterThan(850_000)
  })
})
