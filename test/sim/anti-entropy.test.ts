// Anti-entropy in the seeded simulation: after the faults end (partitions healed, crashed
// nodes restarted), the replicas' trees must become equal soon, not minutes later. The
// cluster counts as settled at the earliest 10 s after the faults (simulation.ts
// settleMsMin, so that suspicions clear); a returned node's partitions are exchanged as soon
// as its peers hear it again and the cluster is idle, so every seed settles within a few
// seconds of that minimum.
import {describe, expect, it} from 'vitest'
import {runSimulation} from '../../src/sim/index.js'

const seeds = Array.from({length: 30}, (_, i) => i + 1)

/** Virtual time from the end of the faults until every tree is equal and every hint delivered. */
const settleMsBound = 15_000

describe('anti-entropy in the simulation', () => {
  it(`makes every replica equal within ${settleMsBound} ms of virtual time after the faults end`, async () => {
    const slow: string[] = []
    for (const seed of seeds) {
      const result = await runSimulation({seed, operationsPerClient: 10})
      if (result.stats.settleMs > settleMsBound) slow.push(`seed ${seed}: ${result.stats.settleMs} ms (npm run sim -- --seed ${seed})`)
    }
    expect(slow).toEqual([])
  })
})
