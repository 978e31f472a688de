// `dyn bench --html` (src/render/bench-html.ts): one page that loads nothing, whose charts
// are well-formed SVG; the latency bins hold every recorded operation once, and the
// throughput steps every answer of the timeline.
import {DOMParser, type Element} from '@xmldom/xmldom'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {Histogram} from '../../src/core/histogram.js'
import {BenchRun, latencyUsMax, type BenchOptions} from '../../src/load/index.js'
import {benchHtml, latencyBins, throughputSteps, type BenchHtmlInput} from '../../src/render/bench-html.js'
import {codedError, FakeTarget, VirtualClock} from '../load/fakes.js'

function charts(html: string): Element[] {
  const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? []
  return svgs.map((text) => {
    const parser = new DOMParser({
      onError: (level, message) => {
        throw new Error(`${level}: ${message}`)
      },
    })
    expect(text).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+);)/)
    const root = parser.parseFromString(text, 'image/svg+xml').documentElement
    if (root === null) throw new Error('no root element')
    return root
  })
}

function classed(root: Element, tag: string, className: string): Element[] {
  return Array.from(root.getElementsByTagName(tag)).filter((element) => (element.getAttribute('class') ?? '').split(' ').includes(className))
}

const base: BenchOptions = {workload: 'a', distribution: 'zipfian', keyCount: 100, valueBytes: 10, concurrency: 4, stop: {kind: 'duration', durationMs: 3000}, seed: 5, load: false}

async function report(options: Partial<BenchOptions> = {}, failEvery?: number): Promise<BenchHtmlInput> {
  const clock = new VirtualClock()
  const target = new FakeTarget(clock, {serviceMs: 2, stall: {fromMs: 1000, toMs: 1300}, ...(failEvery === undefined ? {} : {failure: (n: number) => (n % failEvery === 0 ? codedError('TIMEOUT') : undefined)})})
  const result = await clock.run(() => new BenchRun({...base, ...options}, {target, clock}).run())
  return {...result, cluster: {name: 'dyn', n: 3, r: 2, w: 2}}
}

describe('benchHtml', () => {
  it('is one page with the table, a latency histogram and the throughput chart, loading nothing', async () => {
    const html = benchHtml(await report({}, 50))
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true)
    expect(html.trimEnd().endsWith('</html>')).toBe(true)
    // No script, no stylesheet, image or font from elsewhere; the only URL is the SVG namespace.
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import/i)
    expect(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '')).not.toMatch(/https?:/)
    const [latency, throughput, ...rest] = charts(html)
    expect(rest).toEqual([])
    expect(classed(latency!, 'rect', 'read').length).toBeGreaterThan(0)
    expect(classed(latency!, 'rect', 'update').length).toBeGreaterThan(0)
    expect(classed(latency!, 'line', 'percentile')).toHaveLength(5)
    expect(classed(throughput!, 'path', 'throughput')).toHaveLength(1)
    expect(classed(throughput!, 'rect', 'errors').length).toBeGreaterThan(0)
    expect(html).toContain('errors: TIMEOUT')
    expect(html).toContain('<th>p99.9 ms</th>')
  })

  it('an open loop adds the service-time histogram; a run without answers says so', async () => {
    expect(charts(benchHtml(await report({rateOpsPerS: 500, concurrency: 200})))).toHaveLength(3)
    const none = benchHtml(await report({stop: {kind: 'duration', durationMs: 500}}, 1))
    expect(none).toContain('no operation succeeded')
    expect(charts(none)).toHaveLength(2)
  })
})

describe('latencyBins', () => {
  it('hold every recorded value once, in contiguous log-width bins covering min to max (property)', () => {
    const values = fc.array(fc.integer({min: 0, max: 5_000_000}), {maxLength: 200})
    fc.assert(
      fc.property(values, values, (reads, updates) => {
        const histogram = (recorded: readonly number[]): Histogram => {
          const made = new Histogram({highestTrackableValue: latencyUsMax})
          for (const value of recorded) made.record(value)
          return made
        }
        const histograms = {read: histogram(reads), update: histogram(updates)}
        const bins = latencyBins(histograms)
        if (reads.length + updates.length === 0) {
          expect(bins).toEqual([])
          return
        }
        expect(bins.reduce((total, bin) => total + bin.counts.read, 0)).toBe(reads.length)
        expect(bins.reduce((total, bin) => total + bin.counts.update, 0)).toBe(updates.length)
        for (let index = 1; index < bins.length; index++) expect(bins[index]!.lowUs).toBeCloseTo(bins[index - 1]!.highUs, 6)
        const all = [...reads, ...updates]
        expect(bins[0]!.lowUs).toBeLessThanOrEqual(Math.max(1, Math.min(...all)))
        expect(bins.at(-1)!.highUs).toBeGreaterThan(Math.max(...all))
      }),
      {numRuns: 100},
    )
  })
})

describe('throughputSteps', () => {
  it('carry every answer of the timeline, in contiguous steps ending with the run (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), fc.nat(20)), {minLength: 1, maxLength: 200}), fc.constantFrom(100, 200, 1600), fc.double({min: 0, max: 1, noNaN: true}), (counts, intervalMs, lastFraction) => {
        const timeline = {intervalMs, ok: counts.map(([ok]) => ok), errors: counts.map(([, errors]) => errors)}
        const elapsedMs = (counts.length - 1 + lastFraction) * intervalMs
        const steps = throughputSteps(timeline, elapsedMs)
        const carried = (rate: 'okRate' | 'errorRate'): number => steps.reduce((total, step) => total + step[rate] * (step.endS - step.startS), 0)
        const sum = (list: readonly number[]): number => list.reduce((total, count) => total + count, 0)
        expect(carried('okRate')).toBeCloseTo(sum(timeline.ok), 6)
        expect(carried('errorRate')).toBeCloseTo(sum(timeline.errors), 6)
        for (let index = 1; index < steps.length; index++) expect(steps[index]!.startS).toBe(steps[index - 1]!.endS)
        // The steps end with the run, or after a quarter interval for a run shorter than that.
        expect(steps.at(-1)!.endS).toBeCloseTo(Math.max(elapsedMs, intervalMs / 4) / 1000, 9)
        for (const step of steps) expect(step.endS - step.startS).toBeGreaterThanOrEqual(intervalMs / 4000 - 1e-12)
      }),
      {numRuns: 200},
    )
  })
})
