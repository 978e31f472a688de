import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {randomFloat, randomInt, randomPick, SeededRandom, shuffled} from '../../src/core/random.js'

function take(seed: number, count: number): number[] {
  const random = new SeededRandom(seed)
  return Array.from({length: count}, () => random.nextUint32())
}

describe('SeededRandom', () => {
  it('replays the same stream for the same seed', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(take(seed, 20)).toEqual(take(seed, 20))
      }),
    )
  })

  it('gives different streams for neighbouring seeds', () => {
    for (let seed = 0; seed < 100; seed++) expect(take(seed, 4)).not.toEqual(take(seed + 1, 4))
  })

  it('produces 32-bit unsigned integers spread over the range', () => {
    const values = take(42, 10_000)
    for (const v of values) {
      expect(Number.isInteger(v)).toBe(true)
      expect(v).toBeGreaterThanOrEqual(0)
      expect(v).toBeLessThan(2 ** 32)
    }
    // Each of 16 buckets of the range should get roughly 1/16 of 10k draws.
    const buckets = new Array<number>(16).fill(0)
    for (const v of values) buckets[v >>> 28]!++
    for (const count of buckets) expect(count).toBeGreaterThan(500)
  })

  it('randomInt stays in range and hits every value', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({min: 1, max: 50}), (seed, bound) => {
        const random = new SeededRandom(seed)
        const seen = new Set<number>()
        for (let i = 0; i < bound * 40; i++) {
          const x = randomInt(random, bound)
          expect(x).toBeGreaterThanOrEqual(0)
          expect(x).toBeLessThan(bound)
          seen.add(x)
        }
        expect(seen.size).toBe(bound)
      }),
      {numRuns: 50},
    )
  })

  it('randomFloat is in [0, 1)', () => {
    const random = new SeededRandom(7)
    for (let i = 0; i < 1000; i++) {
      const x = randomFloat(random)
      expect(x >= 0 && x < 1).toBe(true)
    }
  })

  it('shuffled is a permutation and pick chooses a member', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.integer(), {minLength: 1, maxLength: 30}), (seed, items) => {
        const random = new SeededRandom(seed)
        expect([...shuffled(random, items)].sort()).toEqual([...items].sort())
        expect(items).toContain(randomPick(random, items))
      }),
    )
  })

  it('refuses bad bounds', () => {
    const random = new SeededRandom(1)
    expect(() => randomInt(random, 0)).toThrow(RangeError)
    expect(() => randomInt(random, 1.5)).toThrow(RangeError)
    expect(() => randomPick(random, [])).toThrow(RangeError)
  })
})
