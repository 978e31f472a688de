// A latency histogram after Gil Tene's HdrHistogram ("High Dynamic Range Histogram",
// github.com/HdrHistogram/HdrHistogram, AbstractHistogram.java): log-linear buckets that keep
// a fixed number of significant decimal digits over a wide range, in constant memory and
// with O(1) recording. Pure and deterministic; values are non-negative integers in whatever
// unit the caller chose (the load generator uses microseconds).
//
// Layout, for `significantDigits` d and lowest discernible value 1:
//
//   subBucketCount = 2^ceil(log2(2·10^d))      (2048 for d = 3)
//   bucket 0:  values 0 .. subBucketCount-1, one slot per value (exact)
//   bucket b:  values subBucketCount·2^(b-1) .. subBucketCount·2^b - 1, in
//              subBucketCount/2 slots of width 2^b
//
// Every slot of bucket b ≥ 1 starts at a value ≥ (subBucketCount/2)·2^b, so its width is at
// most value / (subBucketCount/2) ≤ value / 10^d: any value read back is within a relative
// 10^-d of a recorded one.
import {assert} from './errors.js'

export interface HistogramOptions {
  /** Largest value tracked at full precision. Larger values are counted in the top slot
   * (see clampedCount); min, max and mean stay exact. */
  readonly highestTrackableValue: number
  /** Decimal digits kept for every value: 3 means within 0.1%. */
  readonly significantDigits?: number
}

/** HdrHistogram's default precision: 0.1% is far below the noise of any latency measured
 * over a network, and costs 2048 slots per doubling of the range. */
export const histogramDigitsDefault = 3

/** More digits cost 2x memory each for no visible gain; HdrHistogram allows at most 5. */
export const histogramDigitsMax = 5

/** Highest trackable value allowed: counts and values are doubles, exact up to 2^53. */
const trackableValueMax = Number.MAX_SAFE_INTEGER

export class Histogram {
  readonly highestTrackableValue: number
  readonly significantDigits: number
  // Invariants: totalCount is the sum of counts; minValue/maxValue/valueSum are over every
  // recorded value (before clamping); counts.length is fixed by the options.
  private readonly subBucketCountMagnitude: number
  private readonly subBucketHalfCount: number
  private readonly counts: Float64Array
  private totalCount = 0
  private clamped = 0
  private minValue = Number.POSITIVE_INFINITY
  private maxValue = 0
  private valueSum = 0

  constructor(options: HistogramOptions) {
    const digits = options.significantDigits ?? histogramDigitsDefault
    assert(Number.isInteger(digits) && digits >= 1 && digits <= histogramDigitsMax, `significantDigits must be 1..${histogramDigitsMax}, got ${digits}`)
    const highest = options.highestTrackableValue
    assert(Number.isSafeInteger(highest) && highest >= 2 && highest <= trackableValueMax, `highestTrackableValue must be an integer from 2 to 2^53-1, got ${highest}`)
    this.highestTrackableValue = highest
    this.significantDigits = digits
    this.subBucketCountMagnitude = Math.ceil(Math.log2(2 * 10 ** digits))
    this.subBucketHalfCount = 2 ** (this.subBucketCountMagnitude - 1)
    this.counts = new Float64Array((bucketCountFor(highest, this.subBucketCountMagnitude) + 1) * this.subBucketHalfCount)
  }

  /** Values recorded. */
  get count(): number {
    return this.totalCount
  }

  /** Smallest value recorded, exact; 0 when empty. */
  get min(): number {
    return this.totalCount === 0 ? 0 : this.minValue
  }

  /** Largest value recorded, exact (also when above highestTrackableValue); 0 when empty. */
  get max(): number {
    return this.maxValue
  }

  /** Exact arithmetic mean; 0 when empty. */
  get mean(): number {
    return this.totalCount === 0 ? 0 : this.valueSum / this.totalCount
  }

  /** Values above highestTrackableValue, counted in the top slot. */
  get clampedCount(): number {
    return this.clamped
  }

  record(value: number, count = 1): void {
    assert(Number.isSafeInteger(value) && value >= 0, `a recorded value must be a non-negative integer, got ${value}`)
    assert(Number.isSafeInteger(count) && count >= 0, `a record count must be a non-negative integer, got ${count}`)
    if (count === 0) return
    if (value > this.highestTrackableValue) this.clamped += count
    this.counts[this.indexOf(Math.min(value, this.highestTrackableValue))]! += count
    this.totalCount += count
    this.valueSum += value * count
    if (value < this.minValue) this.minValue = value
    if (value > this.maxValue) this.maxValue = value
  }

  /**
   * Records `value` and back-fills the values a load generator that waited for each answer
   * failed to measure (HdrHistogram's recordValueWithExpectedInterval, "coordinated
   * omission"): when a response took longer than the interval at which requests were meant
   * to go out, the requests that should have been sent meanwhile would have waited
   * value - interval, value - 2·interval, ... down to one interval. Those are recorded too.
   * Costs O(min(fills, slots)): a run of fills landing in one slot is added at once.
   */
  recordCorrected(value: number, expectedInterval: number): void {
    assert(Number.isSafeInteger(expectedInterval) && expectedInterval >= 0, `expectedInterval must be a non-negative integer, got ${expectedInterval}`)
    this.record(value)
    if (expectedInterval === 0) return
    let next = value - expectedInterval
    while (next >= expectedInterval) {
      // The fills next, next - interval, ... down to `floor` share one slot (the top slot
      // for all those above highestTrackableValue).
      const slotLowest = next > this.highestTrackableValue ? this.highestTrackableValue + 1 : this.lowestEquivalentValue(next)
      const floor = Math.max(slotLowest, expectedInterval)
      const fills = Math.floor((next - floor) / expectedInterval) + 1
      this.recordRun(next, fills, expectedInterval)
      next -= fills * expectedInterval
    }
  }

  /**
   * The value below which `percentile` percent of the recorded values fall: the recorded
   * value of nearest rank ceil(percentile/100 · count), read back as the highest value of its
   * slot (as HdrHistogram does) and kept within [min, max]; ranks 1 and count are min and max
   * exactly. 0 when empty.
   */
  valueAtPercentile(percentile: number): number {
    assert(Number.isFinite(percentile) && percentile >= 0 && percentile <= 100, `percentile must be in [0, 100], got ${percentile}`)
    if (this.totalCount === 0) return 0
    const rank = nearestRank(percentile, this.totalCount)
    // The smallest and the largest value are known exactly (also when clamped).
    if (rank === 1) return this.min
    if (rank >= this.totalCount) return this.max
    let seen = 0
    for (let index = 0; index < this.counts.length; index++) {
      seen += this.counts[index]!
      if (seen >= rank) return clamp(this.highestEquivalentValue(this.valueFromIndex(index)), this.min, this.max)
    }
    return this.max
  }

  /** Adds every value recorded in `other` (same options) to this histogram. */
  merge(other: Histogram): void {
    assert(
      other.highestTrackableValue === this.highestTrackableValue && other.significantDigits === this.significantDigits,
      'only histograms with the same highestTrackableValue and significantDigits can be merged',
    )
    for (let index = 0; index < this.counts.length; index++) this.counts[index]! += other.counts[index]!
    this.totalCount += other.totalCount
    this.clamped += other.clamped
    this.valueSum += other.valueSum
    this.minValue = Math.min(this.minValue, other.minValue)
    this.maxValue = Math.max(this.maxValue, other.maxValue)
  }

  /** The recorded values slot by slot, in increasing order, empty slots skipped: each
   * slot's highest equivalent value (as valueAtPercentile reads it back) and its count.
   * Values above highestTrackableValue are in the top slot. */
  *slots(): Generator<{readonly value: number; readonly count: number}> {
    for (let index = 0; index < this.counts.length; index++) {
      const count = this.counts[index]!
      if (count > 0) yield {value: this.highestEquivalentValue(this.valueFromIndex(index)), count}
    }
  }

  /** An independent copy. */
  clone(): Histogram {
    const copy = new Histogram({highestTrackableValue: this.highestTrackableValue, significantDigits: this.significantDigits})
    copy.merge(this)
    return copy
  }

  /** The smallest value that shares `value`'s slot. */
  lowestEquivalentValue(value: number): number {
    const bucket = this.bucketOf(value)
    return Math.floor(value / 2 ** bucket) * 2 ** bucket
  }

  /** The largest value that shares `value`'s slot. */
  highestEquivalentValue(value: number): number {
    return this.lowestEquivalentValue(value) + 2 ** this.bucketOf(value) - 1
  }

  /** Records `fills` values first, first - step, ... that all lie in one slot. */
  private recordRun(first: number, fills: number, step: number): void {
    const last = first - (fills - 1) * step
    if (first > this.highestTrackableValue) this.clamped += fills
    this.counts[this.indexOf(Math.min(first, this.highestTrackableValue))]! += fills
    this.totalCount += fills
    this.valueSum += ((first + last) * fills) / 2
    if (last < this.minValue) this.minValue = last
    if (first > this.maxValue) this.maxValue = first
  }

  private bucketOf(value: number): number {
    return Math.max(bitLength(value), this.subBucketCountMagnitude) - this.subBucketCountMagnitude
  }

  private indexOf(value: number): number {
    const bucket = this.bucketOf(value)
    const subBucket = Math.floor(value / 2 ** bucket)
    return (bucket + 1) * this.subBucketHalfCount + subBucket - this.subBucketHalfCount
  }

  private valueFromIndex(index: number): number {
    let bucket = Math.floor(index / this.subBucketHalfCount) - 1
    let subBucket = (index % this.subBucketHalfCount) + this.subBucketHalfCount
    if (bucket < 0) {
      subBucket -= this.subBucketHalfCount
      bucket = 0
    }
    return subBucket * 2 ** bucket
  }
}

/** Buckets needed so that the top one holds `highest`. */
function bucketCountFor(highest: number, subBucketCountMagnitude: number): number {
  return Math.max(bitLength(highest), subBucketCountMagnitude) - subBucketCountMagnitude + 1
}

/** Bits needed to write a non-negative integer below 2^53 (0 for 0). */
function bitLength(value: number): number {
  if (value < 2 ** 32) return 32 - Math.clz32(value)
  return 64 - Math.clz32(Math.floor(value / 2 ** 32))
}

/** ceil(percentile/100 · count), at least 1, without float noise turning 2 into 3
 * (99.9/100 · 1000 is 999.0000000000001 in doubles). */
function nearestRank(percentile: number, count: number): number {
  const exact = (percentile / 100) * count
  const nearest = Math.round(exact)
  const rank = Math.abs(exact - nearest) <= 1e-9 * Math.max(1, exact) ? nearest : Math.ceil(exact)
  return Math.max(1, rank)
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high)
}
