// What `dyn top` draws (render/top.ts, render/sparkline.ts): sparklines scaled to their
// largest value, a screen that never outgrows the terminal, and the JSON shape of docs/cli.md.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {parseExposition} from '../../src/core/exposition.js'
import {figuresOf, nodeRow, type NodeRow} from '../../src/core/top.js'
import {asciiLevels, blockLevels, sparkLevel, sparkline} from '../../src/render/sparkline.js'
import {bytesText, topJson, topScreen, topText, type TopFrame} from '../../src/render/top.js'

const levels = blockLevels.length
const value = fc.oneof(fc.constant(0), fc.double({min: 0, max: 1e6, noNaN: true}), fc.integer({min: 0, max: 100}))
const maybe = fc.option(value, {nil: undefined})

describe('sparkLevel', () => {
  it('is 0 for zero, at least 1 above zero, the top for the maximum, and grows with the value', () => {
    fc.assert(
      fc.property(value, value, value, (a, b, extra) => {
        const max = Math.max(a, b) + extra
        const [low, high] = a <= b ? [a, b] : [b, a]
        expect(sparkLevel(low, max, levels)).toBeLessThanOrEqual(sparkLevel(high, max, levels))
        expect(sparkLevel(0, max, levels)).toBe(0)
        if (max > 0) expect(sparkLevel(max, max, levels)).toBe(levels - 1)
        if (a > 0) expect(sparkLevel(a, max, levels)).toBeGreaterThanOrEqual(1)
        expect(sparkLevel(a, max, levels)).toBeLessThanOrEqual(levels - 1)
      }),
    )
  })
})

describe('sparkline', () => {
  it('draws the newest values at the right edge, one character each, blanks for missing ones', () => {
    fc.assert(
      fc.property(fc.array(maybe, {maxLength: 100}), fc.integer({min: 0, max: 80}), fc.boolean(), (values, width, ascii) => {
        const line = [...sparkline(values, {width, ascii})]
        const alphabet: readonly string[] = ascii ? asciiLevels : blockLevels
        expect(line).toHaveLength(width)
        const shown = values.slice(-width)
        const drawn = width === 0 ? [] : line.slice(width - shown.length)
        expect(line.slice(0, width - drawn.length).every((char) => char === ' ')).toBe(true)
        const max = Math.max(0, ...shown.filter((entry): entry is number => entry !== undefined))
        drawn.forEach((char, index) => {
          const entry = shown[index]
          if (entry === undefined) return expect(char).toBe(' ')
          expect(alphabet.indexOf(char)).toBe(sparkLevel(entry, max, alphabet.length))
          // The largest value shown reaches the top; zero stays at the bottom.
          if (entry === max && max > 0) expect(char).toBe(alphabet.at(-1))
          if (entry === 0) expect(char).toBe(alphabet[0])
        })
      }),
    )
  })

  it('scales to a given maximum', () => {
    expect(sparkline([0, 50, 100, 200], {width: 4, max: 100})).toBe('▁▅██')
    expect(sparkline([1, 2], {width: 4})).toBe('  ▅█')
  })
})

// ---- the screen ----

function row(name: string, options: {gets: number; state?: 'serving' | 'unreachable'}): NodeRow {
  if (options.state === 'unreachable') return nodeRow(undefined, {kind: 'unreachable', name, httpAddress: `127.0.0.1:${name.length}`, atMs: 0, problem: 'connection refused'})
  const metrics = (gets: number, uptime: number): string => `dyn_requests_total{type="kv.get",outcome="ok"} ${gets}\ndyn_uptime_seconds ${uptime}\ndyn_hints_pending 2\n`
  const status = {name, cluster: 'dyn', state: 'serving', store: {keys: 3, liveBytes: 2048, deadBytes: 0}, health: {suspects: []}, faults: {cut: ['n9']}}
  const before = {kind: 'up' as const, name, httpAddress: `127.0.0.1:80${name.length}`, atMs: 0, figures: figuresOf(status, parseExposition(metrics(0, 1)).samples)}
  const after = {...before, atMs: 1000, figures: figuresOf(status, parseExposition(metrics(options.gets, 2)).samples)}
  return nodeRow(before, after)
}

function frame(rows: readonly NodeRow[]): TopFrame {
  return {cluster: 'dyn', source: {dir: '/tmp/c'}, intervalMs: 1000, time: '2026-12-04T21:00:00.000Z', rows}
}

// eslint-disable-next-line no-control-regex
const visible = (line: string): string => line.replace(/\x1b\[[0-9;]*m/gu, '')

describe('topScreen', () => {
  it('fits any terminal: at most its rows, each at most its columns', () => {
    const names = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/u)
    fc.assert(
      fc.property(fc.array(fc.record({name: names, gets: fc.nat({max: 1e7}), down: fc.boolean()}), {maxLength: 12}), fc.integer({min: 1, max: 300}), fc.integer({min: 1, max: 80}), fc.boolean(), (nodes, columns, rows, color) => {
        const screen = topScreen(frame(nodes.map((node) => row(node.name, {gets: node.gets, state: node.down ? 'unreachable' : 'serving'}))), {columns, rows, color, unicode: true, history: () => [{atMs: 0, opsPerSecond: 5, p99Ms: 1}, {atMs: 1000, opsPerSecond: undefined, p99Ms: undefined}]})
        expect(screen.length).toBeLessThanOrEqual(rows)
        for (const line of screen) expect([...visible(line)].length).toBeLessThanOrEqual(columns)
      }),
    )
  })

  it('shows each node with its state and figures, and the nodes that did not answer with why', () => {
    const screen = topScreen(frame([row('n1', {gets: 250}), row('n2', {gets: 0, state: 'unreachable'})]), {columns: 200, rows: 60, color: false, unicode: true, history: () => []})
    const text = screen.join('\n')
    expect(text).toMatch(/^n1\s+serving\s+3\s+250\s+0\s+0\s+-/mu)
    expect(text).toMatch(/^n2\s+unreachable\s+-/mu)
    expect(text).toMatch(/^n1\s+2\s+-\s+-\s+-\s+-\s+-\s+-\s+n9\s*$/mu)
    expect(text).toMatch(/^n1\s+2\.0 KiB/mu)
    expect(text).toContain('n2 (127.0.0.1:2): connection refused')
    expect(text).toContain('1/2 serving')
  })

  it('colours only on request', () => {
    const rows = [row('n1', {gets: 1})]
    expect(topScreen(frame(rows), {columns: 200, rows: 60, color: false, unicode: true, history: () => []}).join('')).not.toContain('\x1b')
    expect(topScreen(frame(rows), {columns: 200, rows: 60, color: true, unicode: true, history: () => []}).join('')).toContain('\x1b[32mserving')
    expect(topText(frame(rows))).not.toContain('\x1b')
  })
})

describe('topJson', () => {
  it('has the shape of docs/cli.md', () => {
    const document = topJson(frame([row('n1', {gets: 250}), row('n2', {gets: 0, state: 'unreachable'})]))
    expect(document).toMatchObject({
      version: 1,
      time: '2026-12-04T21:00:00.000Z',
      cluster: 'dyn',
      dir: '/tmp/c',
      intervalMs: 1000,
      totals: {perSecond: {get: 250, put: 0, delete: 0}, quorumFailures: 0, hintsHeld: 2},
    })
    expect(document.nodes[0]).toEqual({
      name: 'n1',
      httpAddress: '127.0.0.1:802',
      state: 'serving',
      uptimeMs: 2000,
      ringVersion: null,
      restarted: false,
      elapsedMs: 1000,
      perSecond: {get: 250, put: 0, delete: 0},
      latencyMs: {get: null, put: null},
      quorumFailures: {total: 0, perSecond: 0},
      hints: {held: 2, delivered: null, deliveredPerSecond: null},
      antiEntropy: null,
      handoffs: null,
      suspects: [],
      cut: ['n9'],
      keys: 3,
      disk: {storeBytes: 2048, freeBytes: null},
      memory: {rssBytes: null, heapUsedBytes: null},
    })
    expect(document.nodes[1]).toMatchObject({name: 'n2', state: 'unreachable', problem: 'connection refused', perSecond: {get: null}, keys: null})
  })

  it('writes sizes in binary units', () => {
    expect([bytesText(0), bytesText(1023), bytesText(1024), bytesText(10 * 1024 * 1024), bytesText(3.5 * 1024 ** 3)]).toEqual(['0 B', '1023 B', '1.0 KiB', '10 MiB', '3.5 GiB'])
  })
})
