// Durations as `dyn bench --duration` takes them.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {DurationSyntaxError, parseDurationMs} from '../../src/load/index.js'

describe('parseDurationMs', () => {
  it('reads milliseconds, seconds, minutes and hours; a bare number is seconds', () => {
    expect(parseDurationMs('500ms')).toBe(500)
    expect(parseDurationMs('10s')).toBe(10_000)
    expect(parseDurationMs('10')).toBe(10_000)
    expect(parseDurationMs('1.5m')).toBe(90_000)
    expect(parseDurationMs(' 2h ')).toBe(7_200_000)
    expect(parseDurationMs('0s')).toBe(0)
  })

  it('any whole number of seconds, written in any unit, gives the same milliseconds', () => {
    fc.assert(
      fc.property(fc.nat(100_000), (seconds) => {
        expect(parseDurationMs(`${seconds}s`)).toBe(seconds * 1000)
        expect(parseDurationMs(`${seconds * 1000}ms`)).toBe(seconds * 1000)
        expect(parseDurationMs(String(seconds))).toBe(seconds * 1000)
      }),
    )
  })

  it('refuses anything else with a usage error that shows the syntax', () => {
    for (const input of ['', 's', '-1s', '5 fortnights', '1e3s', '10 s s', '1,5m']) {
      expect(() => parseDurationMs(input)).toThrow(DurationSyntaxError)
    }
    let caught: unknown
    try {
      parseDurationMs('soon')
    } catch (error) {
      caught = error
    }
    expect(caught).toMatchObject({code: 'USAGE', exitCode: 2, suggestion: expect.stringContaining('500ms, 10s')})
  })
})
