// The rows of `dyn top` (core/top.ts): rates over the time between two polls of a node, as
// its own uptime measures it, counters reset by a restart, the figures of a node that does
// not publish everything, and the last minute the charts keep.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {parseExposition} from '../../src/core/exposition.js'
import {figuresOf, historyPoint, historyRowsMax, historyWindowMs, nodeRow, TopHistory, type NodeFigures, type NodePoll} from '../../src/core/top.js'

/** A node's /metrics with these totals. */
function metricsText(options: {uptimeSeconds: number; gets: number; puts: number; failures?: number; delivered?: number}): string {
  return [
    `dyn_requests_total{type="kv.get",outcome="ok"} ${options.gets}`,
    `dyn_requests_total{type="kv.put",outcome="ok"} ${options.puts}`,
    `dyn_quorum_failures_total{type="kv.put"} ${options.failures ?? 0}`,
    `dyn_uptime_seconds ${options.uptimeSeconds}`,
    `dyn_hints_pending 3`,
    `dyn_hints_delivered_total ${options.delivered ?? 0}`,
    `dyn_anti_entropy_exchanges_total 12`,
    `dyn_anti_entropy_keys_repaired_total 2`,
    `dyn_anti_entropy_failures_total 1`,
    `dyn_handoffs_active 1`,
    `dyn_handoff_keys_sent 40`,
    `dyn_process_resident_memory_bytes 1000`,
    '',
  ].join('\n')
}

const status = {name: 'n1', cluster: 'dyn', state: 'serving', ringVersion: 2, store: {keys: 7, liveBytes: 100, deadBytes: 20}, health: {suspects: ['n3']}, faults: {cut: []}}

function poll(atMs: number, figures: NodeFigures): NodePoll {
  return {kind: 'up', name: 'n1', httpAddress: '127.0.0.1:8001', atMs, figures}
}

function figures(options: Parameters<typeof metricsText>[0]): NodeFigures {
  return figuresOf(status, parseExposition(metricsText(options)).samples)
}

describe('figuresOf', () => {
  it('reads the totals and gauges a node publishes', () => {
    expect(figures({uptimeSeconds: 5, gets: 10, puts: 4, failures: 1})).toMatchObject({
      cluster: 'dyn',
      state: 'serving',
      uptimeMs: 5000,
      ringVersion: 2,
      requests: {get: 10, put: 4, delete: 0},
      quorumFailures: 1,
      hintsHeld: 3,
      antiEntropy: {exchanges: 12, keysRepaired: 2, failures: 1},
      handoffs: {active: 1, keysSent: 40},
      suspects: ['n3'],
      cut: [],
      keys: 7,
      storeBytes: 120,
      memoryBytes: 1000,
      diskFreeBytes: undefined,
    })
  })

  it('leaves out what an older node does not publish instead of guessing', () => {
    const old = figuresOf({name: 'n1', state: 'serving'}, parseExposition('dyn_requests_total{type="kv.get",outcome="ok"} 1\n').samples)
    expect(old).toMatchObject({uptimeMs: undefined, hintsHeld: undefined, antiEntropy: undefined, handoffs: undefined, suspects: undefined, cut: undefined, keys: undefined, storeBytes: undefined})
    expect(figuresOf('not a document', [])).toMatchObject({state: 'serving', requests: {get: 0, put: 0, delete: 0}})
  })
})

describe('nodeRow', () => {
  const reading = fc.record({uptimeSeconds: fc.integer({min: 1, max: 1_000_000}), gets: fc.nat({max: 1e9}), puts: fc.nat({max: 1e9})})

  it('gives rates over the time the node itself measured between two polls', () => {
    fc.assert(
      fc.property(reading, fc.integer({min: 1, max: 100_000}), fc.nat({max: 1e6}), fc.nat({max: 1e6}), fc.integer({min: 1, max: 100_000}), (first, elapsedMs, moreGets, morePuts, pollerMs) => {
        const second = {uptimeSeconds: first.uptimeSeconds + elapsedMs / 1000, gets: first.gets + moreGets, puts: first.puts + morePuts}
        const row = nodeRow(poll(0, figures(first)), poll(pollerMs, figures(second)))
        expect(row.restarted).toBe(false)
        // Uptime travels as float seconds, so compare within a relative error, not a fixed number of decimals.
        expect(Math.abs(row.elapsedMs! - elapsedMs)).toBeLessThanOrEqual(elapsedMs * 1e-6)
        expect(Math.abs(row.perSecond.get! - (moreGets * 1000) / elapsedMs)).toBeLessThanOrEqual(1e-3 + ((moreGets * 1000) / elapsedMs) * 1e-6)
        expect(Math.abs(row.perSecond.put! - (morePuts * 1000) / elapsedMs)).toBeLessThanOrEqual(1e-3 + ((morePuts * 1000) / elapsedMs) * 1e-6)
      }),
      {examples: [[{uptimeSeconds: 131072, gets: 0, puts: 0}, 1, 0, 34, 1]]},
    )
  })

  it('after a restart counts from zero over the time between the polls', () => {
    fc.assert(
      fc.property(reading, reading, fc.integer({min: 1, max: 100_000}), (first, second, pollerMs) => {
        fc.pre(second.uptimeSeconds < first.uptimeSeconds)
        const row = nodeRow(poll(0, figures(first)), poll(pollerMs, figures(second)))
        expect(row.restarted).toBe(true)
        expect(row.elapsedMs).toBe(pollerMs)
        expect(row.perSecond.get).toBeCloseTo((second.gets * 1000) / pollerMs, 3)
        expect(row.perSecond.put).toBeCloseTo((second.puts * 1000) / pollerMs, 3)
      }),
    )
  })

  it('has totals but no rates at the first poll, and nothing for a node that did not answer', () => {
    const first = nodeRow(undefined, poll(0, figures({uptimeSeconds: 1, gets: 5, puts: 5, failures: 2})))
    expect(first).toMatchObject({state: 'serving', quorumFailures: 2, perSecond: {get: undefined, put: undefined}, latencyMs: {get: undefined, put: undefined}})
    const gone = nodeRow(poll(0, figures({uptimeSeconds: 1, gets: 5, puts: 5})), {kind: 'unreachable', name: 'n1', httpAddress: '127.0.0.1:8001', atMs: 1000, problem: 'connection refused'})
    expect(gone).toMatchObject({state: 'unreachable', problem: 'connection refused', keys: undefined, perSecond: {get: undefined}})
    const back = nodeRow({kind: 'unreachable', name: 'n1', httpAddress: '127.0.0.1:8001', atMs: 1000, problem: 'x'}, poll(2000, figures({uptimeSeconds: 1, gets: 5, puts: 5})))
    expect(back.perSecond.get).toBeUndefined()
  })

  it('takes the latency quantiles of the requests between the polls only', () => {
    const histogram = (fast: number, slow: number): string => [
      `dyn_request_duration_seconds_bucket{type="kv.get",le="0.001"} ${fast}`,
      `dyn_request_duration_seconds_bucket{type="kv.get",le="1"} ${fast + slow}`,
      `dyn_request_duration_seconds_bucket{type="kv.get",le="+Inf"} ${fast + slow}`,
      `dyn_request_duration_seconds_count{type="kv.get"} ${fast + slow}`,
      'dyn_uptime_seconds 10',
    ].join('\n')
    const before = figuresOf(status, parseExposition(histogram(1000, 0)).samples)
    const after = figuresOf(status, parseExposition(`${histogram(1000, 10)}\n`.replace('dyn_uptime_seconds 10', 'dyn_uptime_seconds 11')).samples)
    const row = nodeRow(poll(0, before), poll(1000, after))
    // All 10 requests of the last second were slow, though most since the start were fast.
    expect(row.latencyMs.get?.p50).toBeGreaterThan(1)
    expect(row.latencyMs.put).toBeUndefined()
  })
})

describe('TopHistory', () => {
  it('keeps at most the last minute, and at most historyRowsMax points, oldest first', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({min: 0, max: 30_000}), {maxLength: 800}), (gaps) => {
        const history = new TopHistory()
        let atMs = 0
        for (const gap of gaps) {
          atMs += gap
          history.add('a', {atMs, opsPerSecond: gap, p99Ms: undefined})
        }
        const points = history.of('a')
        expect(points.length).toBeLessThanOrEqual(historyRowsMax)
        if (gaps.length > 0) expect(points.at(-1)?.atMs).toBe(atMs)
        for (const point of points) expect(atMs - point.atMs).toBeLessThanOrEqual(historyWindowMs)
        for (let index = 1; index < points.length; index++) expect(points[index]!.atMs).toBeGreaterThanOrEqual(points[index - 1]!.atMs)
        expect(history.of('b')).toEqual([])
      }),
    )
  })

  it('charts the requests per second of every kind and the slowest p99', () => {
    const row = nodeRow(poll(0, figures({uptimeSeconds: 1, gets: 0, puts: 0})), poll(1000, figures({uptimeSeconds: 2, gets: 10, puts: 5})))
    expect(historyPoint(row, 1000)).toEqual({atMs: 1000, opsPerSecond: 15, p99Ms: undefined})
  })
})
