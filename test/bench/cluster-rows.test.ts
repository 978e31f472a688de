// The shaping of bench/cluster.ts's results: percentiles, medians of rounds, the --json
// document, ratios and the tables. Made-up measurements only; nothing here is timed.
import {describe, expect, it} from 'vitest'
import {ratioTables, resultsTable, tlsTable} from '../../bench/peers/report.js'
import {redisConfig} from '../../bench/peers/redis.js'
import {jsonDocument, median, medianRows, percentile, ratios, summarize, tlsRatios, type Measurement} from '../../bench/peers/rows.js'

const measurement = (fields: Partial<Measurement> & Pick<Measurement, 'system' | 'op' | 'concurrency' | 'round'>): Measurement => ({
  opsPerSec: 100,
  p50Ms: 1,
  p99Ms: 2,
  errors: 0,
  ...fields,
})

describe('percentile and median', () => {
  it('takes the nearest rank', () => {
    const sorted = Array.from({length: 100}, (_, i) => i + 1)
    expect(percentile(sorted, 0.5)).toBe(50)
    expect(percentile(sorted, 0.99)).toBe(99)
    expect(percentile(sorted, 1)).toBe(100)
    expect(percentile([7], 0.99)).toBe(7)
    expect(percentile([], 0.5)).toBeNaN()
  })

  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeNaN()
  })

  it('summarizes latencies into throughput and percentiles', () => {
    const summary = summarize([3, 1, 2, 4], 2000)
    expect(summary.opsPerSec).toBe(2)
    expect(summary.p50Ms).toBe(2)
    expect(summary.p99Ms).toBe(4)
    expect(summarize([], 0).opsPerSec).toBe(0)
  })
})

describe('medianRows', () => {
  it('makes one row per system, op and concurrency from the median of each field', () => {
    const rows = medianRows([
      measurement({system: 'dyn', op: 'put', concurrency: 16, round: 2, opsPerSec: 900, p99Ms: 9, errors: 1}),
      measurement({system: 'dyn', op: 'put', concurrency: 16, round: 1, opsPerSec: 1000, p99Ms: 30}),
      measurement({system: 'dyn', op: 'put', concurrency: 16, round: 3, opsPerSec: 100, p99Ms: 10, errors: 2}),
      measurement({system: 'etcd', op: 'put', concurrency: 16, round: 1, opsPerSec: 500}),
    ])
    expect(rows).toHaveLength(2)
    expect(rows[0]).toEqual({
      system: 'dyn',
      op: 'put',
      concurrency: 16,
      opsPerSec: 900,
      p99Ms: 10,
      p50Ms: 1,
      rounds: 3,
      opsPerSecRounds: [1000, 900, 100],
      errors: 3,
    })
    expect(rows[1]?.rounds).toBe(1)
  })
})

describe('the --json document', () => {
  it('holds only results, sorted by system, op (put first) and concurrency, with the read fields', () => {
    const document = jsonDocument(
      medianRows([
        measurement({system: 'redis', op: 'get', concurrency: 1, round: 1}),
        measurement({system: 'dyn', op: 'get', concurrency: 16, round: 1}),
        measurement({system: 'dyn', op: 'get', concurrency: 1, round: 1}),
        measurement({system: 'dyn', op: 'put', concurrency: 1, round: 1}),
      ]),
    )
    expect(Object.keys(document)).toEqual(['results'])
    expect(document.results.map((row) => `${row.system} ${row.op} ${row.concurrency}`)).toEqual(['dyn put 1', 'dyn get 1', 'dyn get 16', 'redis get 1'])
    const parsed = JSON.parse(JSON.stringify(document)) as {results: Record<string, unknown>[]}
    for (const row of parsed.results) {
      expect(row).toMatchObject({system: expect.any(String), op: expect.any(String), concurrency: expect.any(Number), opsPerSec: expect.any(Number), p99Ms: expect.any(Number)})
    }
  })
})

describe('ratios', () => {
  const rows = medianRows([
    measurement({system: 'dyn', op: 'put', concurrency: 1, round: 1, opsPerSec: 300, p99Ms: 4}),
    measurement({system: 'dyn', op: 'put', concurrency: 64, round: 1, opsPerSec: 3000, p99Ms: 40}),
    measurement({system: 'etcd', op: 'put', concurrency: 1, round: 1, opsPerSec: 600, p99Ms: 2}),
    measurement({system: 'etcd', op: 'put', concurrency: 64, round: 1, opsPerSec: 1500, p99Ms: 80}),
  ])

  it('divides dyn by each peer that was measured, and leaves out a skipped one', () => {
    expect(ratios(rows)).toEqual([
      {peer: 'etcd', op: 'put', concurrency: 1, opsPerSec: 0.5, p99: 2},
      {peer: 'etcd', op: 'put', concurrency: 64, opsPerSec: 2, p99: 0.5},
    ])
  })

  it('prints a table per measured peer only', () => {
    const tables = ratioTables(rows)
    expect(tables).toHaveLength(1)
    expect(tables[0]).toContain('| put      | 0.50x, 2.00x | 2.00x, 0.50x |')
    expect(resultsTable(rows).split('\n')).toHaveLength(2 + 4)
  })
})

describe('redis config', () => {
  it('is durable and loopback only', () => {
    const config = redisConfig({port: 12345, dir: '/tmp/x'}).split('\n')
    expect(config).toEqual(expect.arrayContaining(['bind 127.0.0.1', 'port 12345', 'appendonly yes', 'appendfsync always', 'dir /tmp/x', 'save ""']))
  })
})

describe('what TLS costs', () => {
  const rows = medianRows([
    measurement({system: 'dyn', op: 'put', concurrency: 64, round: 1, opsPerSec: 1000, p50Ms: 2, p99Ms: 8}),
    measurement({system: 'dyn-tls', op: 'put', concurrency: 64, round: 1, opsPerSec: 800, p50Ms: 3, p99Ms: 10}),
    measurement({system: 'dyn', op: 'get', concurrency: 16, round: 1}),
    measurement({system: 'etcd', op: 'put', concurrency: 64, round: 1, opsPerSec: 500}),
  ])

  it('divides dyn-tls by dyn where both were measured, and keeps dyn-tls out of the peer ratios', () => {
    expect(tlsRatios(rows)).toEqual([{op: 'put', concurrency: 64, opsPerSec: 0.8, p50: 1.5, p99: 1.25}])
    expect(ratios(rows).map((ratio) => ratio.peer)).toEqual(['etcd'])
    expect(tlsTable(rows)).toContain('| put |   64 |           0.80x |         1.50x |         1.25x |')
    expect(tlsTable(rows.filter((row) => row.system !== 'dyn-tls'))).toBeUndefined()
  })
})
