// The numbers of bench/cluster.ts, from raw latencies to the rows it prints: percentiles of
// one measurement, medians over rounds, ratios between systems. Pure functions, so the
// shaping of the results is tested apart from any timing.

/** `dyn-tls` is dyn with TLS on (mutual TLS, as `dyn init --tls` sets it up): compared
 * with dyn, not with the peers. */
export const systemNames = ['dyn', 'dyn-tls', 'etcd', 'redis'] as const
export type SystemName = (typeof systemNames)[number]

/** The systems dyn is compared with. */
export type PeerName = Exclude<SystemName, 'dyn' | 'dyn-tls'>

export const opNames = ['put', 'get'] as const
export type OpName = (typeof opNames)[number]

/** One timed measurement: one system, op and concurrency, in one round. */
export interface Measurement {
  readonly system: SystemName
  readonly op: OpName
  readonly concurrency: number
  readonly round: number
  readonly opsPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly errors: number
}

/** One result row: the medians of a system's rounds at one op and concurrency. The first
 * five fields are the interface (`--json`); the rest help to judge the spread. */
export interface ResultRow {
  readonly system: SystemName
  readonly op: OpName
  readonly concurrency: number
  readonly opsPerSec: number
  readonly p99Ms: number
  readonly p50Ms: number
  readonly rounds: number
  /** Each round's throughput, in round order: how far apart the rounds were. */
  readonly opsPerSecRounds: readonly number[]
  /** Failed requests over all rounds; they count in no latency and no throughput. */
  readonly errors: number
}

/** The value at `fraction` (0..1) of ascending `sorted` (nearest rank); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil(fraction * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN
}

/** The median; the mean of the middle two for an even count; NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Throughput and percentiles of one measurement from its successful requests' latencies. */
export function summarize(latenciesMs: readonly number[], elapsedMs: number): {opsPerSec: number; p50Ms: number; p99Ms: number} {
  const sorted = Float64Array.from(latenciesMs).sort()
  return {
    opsPerSec: elapsedMs > 0 ? (latenciesMs.length * 1000) / elapsedMs : 0,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  }
}

/** One row per system, op and concurrency, in the order first measured; each field is the
 * median over that row's rounds, taken per field (the median p99 need not come from the
 * round of the median throughput). */
export function medianRows(measurements: readonly Measurement[]): ResultRow[] {
  const groups = new Map<string, Measurement[]>()
  for (const measurement of measurements) {
    const key = `${measurement.system}/${measurement.op}/${measurement.concurrency}`
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [measurement])
    else group.push(measurement)
  }
  return [...groups.values()].map((group) => {
    const byRound = [...group].sort((a, b) => a.round - b.round)
    const first = byRound[0]!
    return {
      system: first.system,
      op: first.op,
      concurrency: first.concurrency,
      opsPerSec: median(byRound.map((m) => m.opsPerSec)),
      p99Ms: median(byRound.map((m) => m.p99Ms)),
      p50Ms: median(byRound.map((m) => m.p50Ms)),
      rounds: byRound.length,
      opsPerSecRounds: byRound.map((m) => m.opsPerSec),
      errors: byRound.reduce((sum, m) => sum + m.errors, 0),
    }
  })
}

/** Rows in the printed order: by system (systemNames order), op (put first), concurrency. */
export function sortRows(rows: readonly ResultRow[]): ResultRow[] {
  return [...rows].sort(
    (a, b) =>
      systemNames.indexOf(a.system) - systemNames.indexOf(b.system) ||
      opNames.indexOf(a.op) - opNames.indexOf(b.op) ||
      a.concurrency - b.concurrency,
  )
}

/** dyn against one peer at one op and concurrency. Throughput above 1 and p99 below 1 are
 * in dyn's favour. */
export interface Ratio {
  readonly peer: PeerName
  readonly op: OpName
  readonly concurrency: number
  readonly opsPerSec: number
  readonly p99: number
}

/** dyn/peer for every row that both dyn and the peer have; a skipped peer has no ratios. */
export function ratios(rows: readonly ResultRow[]): Ratio[] {
  const peers = systemNames.filter((name): name is PeerName => name !== 'dyn' && name !== 'dyn-tls')
  return peers.flatMap((peer) =>
    sortRows(rows.filter((row) => row.system === 'dyn')).flatMap((dyn) => {
      const other = rows.find((row) => row.system === peer && row.op === dyn.op && row.concurrency === dyn.concurrency)
      return other === undefined ? [] : [{peer, op: dyn.op, concurrency: dyn.concurrency, opsPerSec: dyn.opsPerSec / other.opsPerSec, p99: dyn.p99Ms / other.p99Ms}]
    }),
  )
}

/** What TLS costs: dyn with TLS against dyn without, at one op and concurrency. Throughput
 * below 1 and p99 above 1 are the price of TLS. */
export interface TlsRatio {
  readonly op: OpName
  readonly concurrency: number
  readonly opsPerSec: number
  readonly p50: number
  readonly p99: number
}

/** dyn-tls/dyn for every row both have. */
export function tlsRatios(rows: readonly ResultRow[]): TlsRatio[] {
  return sortRows(rows.filter((row) => row.system === 'dyn-tls')).flatMap((tls) => {
    const plain = rows.find((row) => row.system === 'dyn' && row.op === tls.op && row.concurrency === tls.concurrency)
    return plain === undefined ? [] : [{op: tls.op, concurrency: tls.concurrency, opsPerSec: tls.opsPerSec / plain.opsPerSec, p50: tls.p50Ms / plain.p50Ms, p99: tls.p99Ms / plain.p99Ms}]
  })
}

/** The `--json` document: `{"results": [...]}` and nothing else at the top level. */
export function jsonDocument(rows: readonly ResultRow[]): {results: ResultRow[]} {
  return {results: sortRows(rows)}
}
