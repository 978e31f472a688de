// A run is a function of its seed: the same seed gives the same trace, event for event.
import {describe, expect, it} from 'vitest'
import {configure, runSimulation} from '../../src/sim/index.js'

describe('determinism', () => {
  it('gives the same trace hash for the same seed', async () => {
    for (const seed of [7, 123456, 2 ** 32 - 1]) {
      const lines: string[] = []
      const first = await runSimulation({seed, onTrace: (line) => lines.push(line)})
      const second = await runSimulation({seed})
      expect(second.traceHash).toBe(first.traceHash)
      expect(second.stats).toEqual(first.stats)
      expect(lines.length).toBeGreaterThan(100)
    }
  })

  it('gives different traces for different seeds', async () => {
    const hashes = new Set<string>()
    for (let seed = 100; seed < 110; seed++) hashes.add((await runSimulation({seed, operationsPerClient: 5})).traceHash)
    expect(hashes.size).toBe(10)
  })

  it('lets flags override the shape the seed picks', () => {
    const config = configure({seed: 5, nodes: 4, operationsPerClient: 3})
    expect(config.nodes).toEqual(['n1', 'n2', 'n3', 'n4'])
    expect(config.operationsPerClient).toBe(3)
    expect(configure({seed: 5})).toEqual(configure({seed: 5}))
  })
})
