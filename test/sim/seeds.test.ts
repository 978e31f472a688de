// The seeded simulation in CI: a few hundred seeds of whole clusters under message loss,
// duplication, reordering and long delays must keep DESIGN §3's contract. A failure's
// message holds the seed and the command that replays it.
import {describe, expect, it} from 'vitest'
import {runSimulation} from '../../src/sim/index.js'

/** Seeds per CI run: about 15-25 s on a busy 2-core machine; `npm run sim -- --seeds N` runs more. */
const ciSeeds = 200

describe('seeded simulation', () => {
  it(`keeps the contract for seeds 1..${ciSeeds}`, async () => {
    let acknowledged = 0
    let siblingReads = 0
    let dropped = 0
    for (let seed = 1; seed <= ciSeeds; seed++) {
      const result = await runSimulation({seed, operationsPerClient: 12})
      acknowledged += result.stats.acknowledged
      siblingReads += result.stats.siblingReads
      dropped += result.stats.network.dropped
    }
    // The runs did exercise what they claim to: writes, conflicts and faults.
    expect(acknowledged).toBeGreaterThan(ciSeeds * 10)
    expect(siblingReads).toBeGreaterThan(0)
    expect(dropped).toBeGreaterThan(0)
  })
})
