// Key choosers and the operation mix: keys always in range, the Zipfian chooser's skew and
// its frequencies against Zipf's law, the uniform chooser's flatness, YCSB's A/B/C mixes,
// and the same sequence for the same seed.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {SeededRandom} from '../../src/core/random.js'
import {
  chooseOperation,
  UniformKeyChooser,
  WorkloadGenerator,
  zeta,
  ZipfianKeyChooser,
  zipfianConstant,
  zipfianProbability,
  type KeyChooser,
} from '../../src/core/workload.js'

function frequencies(chooser: KeyChooser, draws: number): number[] {
  const counts = new Array<number>(chooser.keyCount).fill(0)
  for (let i = 0; i < draws; i++) counts[chooser.next()]!++
  return counts.map((count) => count / draws)
}

describe('zeta and Zipf probabilities', () => {
  it('zeta is the generalised harmonic number; probabilities sum to 1 and fall with rank', () => {
    expect(zeta(1, 0.99)).toBe(1)
    expect(zeta(2, 0.99)).toBeCloseTo(1 + 2 ** -0.99, 12)
    expect(zeta(3, 0.5)).toBeCloseTo(1 + 1 / Math.SQRT2 + 1 / Math.sqrt(3), 12)
    const probabilities = Array.from({length: 50}, (_, rank) => zipfianProbability(rank, 50))
    expect(probabilities.reduce((sum, p) => sum + p, 0)).toBeCloseTo(1, 12)
    for (let rank = 1; rank < 50; rank++) expect(probabilities[rank]).toBeLessThan(probabilities[rank - 1]!)
  })
})

describe('key choosers', () => {
  it('choose keys in [0, keyCount) only', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({min: 1, max: 5000}), fc.constantFrom('uniform', 'zipfian'), (seed, keyCount, distribution) => {
        const random = new SeededRandom(seed)
        const chooser = distribution === 'uniform' ? new UniformKeyChooser(random, keyCount) : new ZipfianKeyChooser(random, keyCount)
        for (let i = 0; i < 200; i++) {
          const key = chooser.next()
          expect(Number.isInteger(key)).toBe(true)
          expect(key).toBeGreaterThanOrEqual(0)
          expect(key).toBeLessThan(keyCount)
        }
      }),
      {numRuns: 100},
    )
  })

  it('replay the same keys for the same seed', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({min: 1, max: 1000}), (seed, keyCount) => {
        const draw = () => {
          const chooser = new ZipfianKeyChooser(new SeededRandom(seed), keyCount)
          return Array.from({length: 50}, () => chooser.next())
        }
        expect(draw()).toEqual(draw())
      }),
      {numRuns: 50},
    )
  })

  it('zipfian: frequencies close to Zipf\'s law over a small key space, ranks 0 and 1 exactly', () => {
    for (const keyCount of [10, 100]) {
      const observed = frequencies(new ZipfianKeyChooser(new SeededRandom(keyCount), keyCount), 200_000)
      const expected = Array.from({length: keyCount}, (_, rank) => zipfianProbability(rank, keyCount))
      // Gray et al. draw ranks 0 and 1 exactly: only sampling noise (σ ≈ 0.001) is left.
      expect(Math.abs(observed[0]! - expected[0]!)).toBeLessThan(0.005)
      expect(Math.abs(observed[1]! - expected[1]!)).toBeLessThan(0.005)
      // The other ranks come from an approximation of the distribution: close, not exact.
      const totalVariation = observed.reduce((sum, p, rank) => sum + Math.abs(p - expected[rank]!), 0) / 2
      expect(totalVariation).toBeLessThan(0.04)
    }
  })

  it('zipfian: popular ranks first, and the hottest key far above a uniform share', () => {
    const keyCount = 1000
    const observed = frequencies(new ZipfianKeyChooser(new SeededRandom(5), keyCount), 200_000)
    for (const [hotter, colder] of [[0, 1], [1, 2], [2, 4], [4, 16], [16, 256]] as const) expect(observed[hotter]).toBeGreaterThan(observed[colder]!)
    expect(observed[0]).toBeGreaterThan(50 / keyCount)
    expect(observed[0]).toBeCloseTo(1 / zeta(keyCount, zipfianConstant), 2)
    // Skew: the top 1% of keys take a large part of all draws.
    const top = observed.slice(0, 10).reduce((sum, p) => sum + p, 0)
    expect(top).toBeGreaterThan(0.35)
  })

  it('uniform: every key about equally often', () => {
    const keyCount = 20
    const observed = frequencies(new UniformKeyChooser(new SeededRandom(3), keyCount), 100_000)
    for (const p of observed) expect(Math.abs(p - 1 / keyCount)).toBeLessThan(0.005)
  })

  it('one or two keys are handled', () => {
    const one = new ZipfianKeyChooser(new SeededRandom(1), 1)
    const two = new ZipfianKeyChooser(new SeededRandom(1), 2)
    expect(new Set(Array.from({length: 100}, () => one.next()))).toEqual(new Set([0]))
    expect(new Set(Array.from({length: 100}, () => two.next()))).toEqual(new Set([0, 1]))
  })
})

describe('the operation mix', () => {
  it('A, B and C read half, 95% and all of the time', () => {
    for (const [workload, readProportion] of [['a', 0.5], ['b', 0.95], ['c', 1]] as const) {
      const generator = new WorkloadGenerator(new SeededRandom(11), {workload, distribution: 'uniform', keyCount: 10})
      const draws = 20_000
      let reads = 0
      for (let i = 0; i < draws; i++) if (generator.next().kind === 'read') reads++
      // 20k draws: σ of the proportion is at most 0.0036.
      expect(Math.abs(reads / draws - readProportion)).toBeLessThan(0.015)
      if (readProportion === 1) expect(reads).toBe(draws)
    }
  })

  it('chooseOperation follows its proportion and draws nothing for a pure mix', () => {
    const random = new SeededRandom(2)
    const untouched = new SeededRandom(2)
    expect(chooseOperation(random, 1)).toBe('read')
    expect(chooseOperation(random, 0)).toBe('update')
    expect(random.nextUint32()).toBe(untouched.nextUint32())
    expect(() => chooseOperation(random, 1.5)).toThrow(/readProportion/)
  })

  it('a seed replays the same operations', () => {
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom('a', 'b', 'c'), fc.constantFrom('uniform', 'zipfian'), (seed, workload, distribution) => {
        const sequence = () => {
          const generator = new WorkloadGenerator(new SeededRandom(seed), {workload, distribution, keyCount: 500})
          return Array.from({length: 100}, () => generator.next())
        }
        expect(sequence()).toEqual(sequence())
      }),
      {numRuns: 50},
    )
  })
})
