// The readable report of bench/cluster.ts: the result rows and dyn's ratios to each peer,
// as Markdown tables, which read well on a terminal and paste into docs/benchmarks.md as
// they are.
import {ratios, sortRows, tlsRatios, type Ratio, type ResultRow} from './rows.js'

/** Column-aligned Markdown table; columns whose header starts with a space align right. */
export function markdownTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const right = header.map((cell) => cell.startsWith(' '))
  const cells = [header.map((cell) => cell.trim()), ...body]
  const widths = header.map((_, column) => Math.max(3, ...cells.map((row) => (row[column] ?? '').length)))
  const line = (row: readonly string[]): string =>
    `| ${row.map((cell, column) => (right[column] === true ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join(' | ')} |`
  const rule = `|${widths.map((width, column) => (right[column] === true ? `${'-'.repeat(width + 1)}:` : '-'.repeat(width + 2))).join('|')}|`
  return [line(cells[0]!), rule, ...body.map(line)].join('\n')
}

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : '-')

export function resultsTable(rows: readonly ResultRow[]): string {
  return markdownTable(
    ['system', 'op', ' conc', ' ops/s', ' p50 ms', ' p99 ms', ' ops/s of each round', ' errors'],
    sortRows(rows).map((row) => [
      row.system,
      row.op,
      String(row.concurrency),
      fixed(row.opsPerSec, 0),
      fixed(row.p50Ms, 2),
      fixed(row.p99Ms, 2),
      row.opsPerSecRounds.map((value) => fixed(value, 0)).join(' '),
      String(row.errors),
    ]),
  )
}

/** One table per peer: a line per op, a column per concurrency, "throughput, p99" ratios. */
export function ratioTables(rows: readonly ResultRow[]): string[] {
  const all = ratios(rows)
  const peers = [...new Set(all.map((ratio) => ratio.peer))]
  return peers.map((peer) => {
    const mine = all.filter((ratio) => ratio.peer === peer)
    const concurrencies = [...new Set(mine.map((ratio) => ratio.concurrency))].sort((a, b) => a - b)
    const ops = [...new Set(mine.map((ratio) => ratio.op))]
    const cell = (ratio: Ratio | undefined): string => (ratio === undefined ? '-' : `${fixed(ratio.opsPerSec, 2)}x, ${fixed(ratio.p99, 2)}x`)
    const table = markdownTable(
      [`dyn/${peer}`, ...concurrencies.map((concurrency) => ` conc ${concurrency}`)],
      ops.map((op) => [op, ...concurrencies.map((concurrency) => cell(mine.find((ratio) => ratio.op === op && ratio.concurrency === concurrency)))]),
    )
    return `dyn/${peer} (ops/s ratio, p99 ratio: above 1x and below 1x respectively favour dyn)\n\n${table}`
  })
}

/** What TLS costs: a line per op and concurrency measured with and without it. */
export function tlsTable(rows: readonly ResultRow[]): string | undefined {
  const all = tlsRatios(rows)
  if (all.length === 0) return undefined
  const table = markdownTable(
    ['op', ' conc', ' ops/s TLS/plain', ' p50 TLS/plain', ' p99 TLS/plain'],
    all.map((ratio) => [ratio.op, String(ratio.concurrency), `${fixed(ratio.opsPerSec, 2)}x`, `${fixed(ratio.p50, 2)}x`, `${fixed(ratio.p99, 2)}x`]),
  )
  return `dyn-tls/dyn (what TLS costs: ops/s below 1x and latency above 1x are its price)\n\n${table}`
}
