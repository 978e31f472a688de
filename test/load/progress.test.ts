// The progress bar: what one line says, that it fits the terminal, that it redraws at most
// four times a second and that it erases itself.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {ProgressBar, progressLine, progressRedrawMsMin, type BenchProgress} from '../../src/load/index.js'

const running: BenchProgress = {phase: 'run', done: 12_345, total: undefined, elapsedMs: 4_200, durationMs: 10_000}

describe('progressLine', () => {
  it('shows the phase, elapsed of total time, operations done and the current rate', () => {
    const line = progressLine(running, {opsPerSecond: 2345.4, columns: 100})
    expect(line).toMatch(/^run {2}\[#+-+\] {2}4\.2s\/10\.0s {2}12,345 ops {2}2,345 ops\/s$/)
    // 42% of the bar is filled.
    const bar = /\[([#-]+)\]/.exec(line)![1]!
    expect(bar.split('#').length - 1).toBe(Math.round(0.42 * bar.length))
  })

  it('counts keys in the load phase and operations against --ops', () => {
    expect(progressLine({phase: 'load', done: 250, total: 1000, elapsedMs: 900, durationMs: undefined}, {opsPerSecond: undefined, columns: 80})).toMatch(
      /^load \[#+-+\] {2}0\.9s {2}250\/1,000 keys$/,
    )
    const byCount = progressLine({phase: 'run', done: 500, total: 1000, elapsedMs: 100, durationMs: undefined}, {opsPerSecond: 10, columns: 80})
    const bar = /\[([#-]+)\]/.exec(byCount)![1]!
    expect(bar.split('#').length - 1).toBe(bar.length / 2)
  })

  it('never reaches the last column, so a carriage return can redraw it', () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 300}), fc.nat(10 ** 9), fc.nat(10 ** 7), (columns, done, elapsedMs) => {
        const line = progressLine({phase: 'run', done, total: undefined, elapsedMs, durationMs: 10_000}, {opsPerSecond: done / 3, columns})
        expect(line.length).toBeLessThan(Math.max(1, columns))
      }),
    )
  })
})

describe('ProgressBar', () => {
  function recorder() {
    const writes: string[] = []
    let nowMs = 0
    const bar = new ProgressBar({write: (text: string) => writes.push(text), columns: 80}, () => nowMs)
    return {writes, bar, advance: (ms: number) => (nowMs += ms)}
  }

  it('redraws at most once per progressRedrawMsMin and erases its line at the end', () => {
    const {writes, bar, advance} = recorder()
    for (let i = 0; i < 40; i++) {
      bar.update({...running, done: i * 10, elapsedMs: i * 25})
      advance(25)
    }
    // 40 updates over 1 s: a redraw every 250 ms.
    expect(writes).toHaveLength((40 * 25) / progressRedrawMsMin)
    for (const write of writes) {
      expect(write.startsWith('\r')).toBe(true)
      expect(write.endsWith('\u001b[K')).toBe(true)
    }
    bar.clear()
    expect(writes.at(-1)).toBe('\r\x1b[K')
  })

  it('shows the rate of the last second', () => {
    const {writes, bar, advance} = recorder()
    // 100 operations per 250 ms = 400 ops/s.
    for (let i = 0; i <= 8; i++) {
      bar.update({...running, done: i * 100})
      advance(progressRedrawMsMin)
    }
    expect(writes.at(-1)).toContain(' 400 ops/s')
  })

  it('draws 80 columns on a terminal of unknown size', () => {
    const writes: string[] = []
    new ProgressBar({write: (text: string) => writes.push(text), columns: 0}, () => 0).update(running)
    expect(writes[0]!.length).toBeGreaterThan(40)
    expect(writes[0]!.length).toBeLessThan(80 + 4)
  })

  it('clear writes nothing when nothing was drawn', () => {
    const {writes, bar} = recorder()
    bar.clear()
    expect(writes).toEqual([])
  })
})
