// The seeded simulation in CI: whole clusters under message loss, duplication, reordering
// and long delays, network partitions, crashes that lose unsynced writes or the whole disk, restarts and
// joins and leaves in the middle of the workload must keep DESIGN §3's contract and
// converge afterwards. A failure's message holds the seed and the command that replays it.
import {describe, expect, it} from 'vitest'
import {configure, runSimulation} from '../../src/sim/index.js'

/** Seeds per CI run, in chunks so that no single test runs long: about 0.4 s a seed on a
 * quiet 2-core machine (each run includes its settle period with anti-entropy);
 * `npm run sim -- --seeds N` runs more. */
const ciSeeds = 200
const seedsPerChunk = 25

/** Operations per client in CI: enough for conflicts and for faults to land mid-workload. */
const ciOperationsPerClient = 10

describe('seeded simulation', () => {
  const totals = {acknowledged: 0, siblingReads: 0, dropped: 0, crashes: 0, wipes: 0, partitions: 0, memberships: 0}

  for (let first = 1; first <= ciSeeds; first += seedsPerChunk) {
    const last = Math.min(ciSeeds, first + seedsPerChunk - 1)
    it(`keeps the contract and converges for seeds ${first}..${last}`, async () => {
      for (let seed = first; seed <= last; seed++) {
        const result = await runSimulation({seed, operationsPerClient: ciOperationsPerClient})
        totals.acknowledged += result.stats.acknowledged
        totals.siblingReads += result.stats.siblingReads
        totals.dropped += result.stats.network.dropped
        totals.crashes += result.stats.nemesis.crashes
        totals.wipes += result.stats.nemesis.wipes
        totals.partitions += result.stats.nemesis.partitions
        if (configure({seed}).membership.kind !== 'none') totals.memberships++
      }
    })
  }

  it('exercised what it claims to: writes, conflicts and every kind of fault', () => {
    expect(totals.acknowledged).toBeGreaterThan(ciSeeds * 5)
    expect(totals.siblingReads).toBeGreaterThan(0)
    expect(totals.dropped).toBeGreaterThan(0)
    expect(totals.crashes).toBeGreaterThan(0)
    expect(totals.wipes).toBeGreaterThan(0)
    expect(totals.partitions).toBeGreaterThan(0)
    expect(totals.memberships).toBeGreaterThan(0)
  })
})
