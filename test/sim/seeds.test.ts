// The seeded simulation in CI: whole clusters under message loss, duplication, reordering
// and long delays, network partitions, crashes that lose unsynced writes, restarts and
// joins and leaves in the middle of the workload must keep DESIGN §3's contract and
// converge afterwards. A failure's message holds the seed and the command that replays it.
import {describe, expect, it} from 'vitest'
import {configure, runSimulation} from '../../src/sim/index.js'

/** Seeds per CI run: about 15-25 s on a busy 2-core machine (each run includes its settle
 * period with anti-entropy); `npm run sim -- --seeds N` runs more. */
const ciSeeds = 30

/** Operations per client in CI: enough for conflicts and for faults to land mid-workload. */
const ciOperationsPerClient = 10

describe('seeded simulation', () => {
  it(`keeps the contract and converges for seeds 1..${ciSeeds}`, async () => {
    let acknowledged = 0
    let siblingReads = 0
    let dropped = 0
    let crashes = 0
    let partitions = 0
    let memberships = 0
    for (let seed = 1; seed <= ciSeeds; seed++) {
      const result = await runSimulation({seed, operationsPerClient: ciOperationsPerClient})
      acknowledged += result.stats.acknowledged
      siblingReads += result.stats.siblingReads
      dropped += result.stats.network.dropped
      crashes += result.stats.nemesis.crashes
      partitions += result.stats.nemesis.partitions
      if (configure({seed}).membership.kind !== 'none') memberships++
    }
    // The runs did exercise what they claim to: writes, conflicts and every kind of fault.
    expect(acknowledged).toBeGreaterThan(ciSeeds * 5)
    expect(siblingReads).toBeGreaterThan(0)
    expect(dropped).toBeGreaterThan(0)
    expect(crashes).toBeGreaterThan(0)
    expect(partitions).toBeGreaterThan(0)
    expect(memberships).toBeGreaterThan(0)
  })
})
