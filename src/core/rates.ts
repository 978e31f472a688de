// Rates and quantiles from two readings of a node's counters and histograms, as Prometheus
// computes them (`rate()`, `increase()` and `histogram_quantile()`,
// https://prometheus.io/docs/prometheus/latest/querying/functions/): a counter only grows
// while its process lives, so the difference of two readings is what happened between them,
// and a reading below the one before means the process started again and counted from zero.
// Pure: readings and times come in as numbers.
import {sumOf, type Sample} from './exposition.js'

/** How much a counter grew from `previous` to `current`. After a reset (the node restarted:
 * `restarted`, or the counter went down) the counter counted from zero, so the increase is
 * `current`: what was counted before the restart and not yet read is lost, never invented. */
export function counterIncrease(previous: number, current: number, options: {restarted?: boolean} = {}): number {
  if (!Number.isFinite(previous) || !Number.isFinite(current)) return 0
  if (options.restarted === true || current < previous) return Math.max(0, current)
  return current - previous
}

/** `increase` per second over `elapsedMs`; undefined when no time passed (nothing to divide by). */
export function perSecond(increase: number, elapsedMs: number): number | undefined {
  if (!(elapsedMs > 0) || !Number.isFinite(increase)) return undefined
  return (increase * 1000) / elapsedMs
}

/** A histogram as Prometheus exposes it: `cumulative[i]` observations at most `bounds[i]`
 * (ascending, finite), `count` all of them (the +Inf bucket). Invariant: cumulative is
 * non-decreasing and at most count. */
export interface CumulativeHistogram {
  readonly bounds: readonly number[]
  readonly cumulative: readonly number[]
  readonly count: number
}

/** The histogram named `name` (its `_bucket` and `_count` samples) with labels `match`;
 * undefined when the samples hold none. */
export function histogramOf(samples: readonly Sample[], name: string, match: Readonly<Record<string, string>> = {}): CumulativeHistogram | undefined {
  const buckets: {bound: number; count: number}[] = []
  let infinite: number | undefined
  for (const sample of samples) {
    if (sample.name !== `${name}_bucket` || !Object.entries(match).every(([label, value]) => sample.labels[label] === value)) continue
    const le = sample.labels['le']
    if (le === undefined) continue
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le)
    if (Number.isNaN(bound)) continue
    if (bound === Number.POSITIVE_INFINITY) infinite = sample.value
    else buckets.push({bound, count: sample.value})
  }
  if (buckets.length === 0 && infinite === undefined) return undefined
  buckets.sort((a, b) => a.bound - b.bound)
  const count = infinite ?? sumOf(samples, `${name}_count`, match)
  return {bounds: buckets.map((bucket) => bucket.bound), cumulative: buckets.map((bucket) => bucket.count), count}
}

/** The observations between two readings of a histogram: bucket by bucket differences. After
 * a reset (restarted, the bounds changed, or any bucket went down) the whole current reading. */
export function histogramIncrease(previous: CumulativeHistogram | undefined, current: CumulativeHistogram, options: {restarted?: boolean} = {}): CumulativeHistogram {
  if (previous === undefined || options.restarted === true || !sameBounds(previous, current)) return current
  const reset = current.count < previous.count || current.cumulative.some((count, index) => count < (previous.cumulative[index] ?? 0))
  if (reset) return current
  return {
    bounds: current.bounds,
    cumulative: current.cumulative.map((count, index) => count - (previous.cumulative[index] ?? 0)),
    count: current.count - previous.count,
  }
}

function sameBounds(a: CumulativeHistogram, b: CumulativeHistogram): boolean {
  return a.bounds.length === b.bounds.length && a.bounds.every((bound, index) => bound === b.bounds[index])
}

/** The q-quantile (0 < q ≤ 1) of the observations, as histogram_quantile estimates it: find
 * the bucket holding the observation of rank q·count and interpolate linearly inside it
 * (from 0 for the first bucket). Observations above the last bound are reported at the last
 * bound. Undefined when there are no observations. */
export function histogramQuantile(histogram: CumulativeHistogram, q: number): number | undefined {
  if (!(histogram.count > 0) || !(q > 0 && q <= 1)) return undefined
  const rank = q * histogram.count
  for (let index = 0; index < histogram.bounds.length; index++) {
    const below = index === 0 ? 0 : (histogram.cumulative[index - 1] ?? 0)
    const upTo = histogram.cumulative[index] ?? 0
    if (upTo < rank) continue
    const lower = index === 0 ? 0 : (histogram.bounds[index - 1] ?? 0)
    const upper = histogram.bounds[index] ?? lower
    const inside = upTo - below
    return inside > 0 ? lower + ((upper - lower) * (rank - below)) / inside : upper
  }
  return histogram.bounds.at(-1)
}
