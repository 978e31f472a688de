// Scripted membership scenarios in the seeded simulation (docs/simulation.md "Scenarios"):
// two claimants committing at once on both sides of a partition, and a node whose host is
// gone for good removed by force. Both keep DESIGN §3's contract and converge; the
// scenarios' own checks (every committed change takes effect, statuses follow the ring,
// every key readable at R = N) run at the end of each run.
import {describe, expect, it} from 'vitest'
import {configure, replayCommand, runSimulation} from '../../src/sim/index.js'

const operationsPerClient = 10

async function traceOf(seed: number, scenario: 'concurrent-claimants' | 'force-remove'): Promise<string[]> {
  const lines: string[] = []
  await runSimulation({seed, operationsPerClient, scenario, onTrace: (line) => lines.push(line)})
  return lines
}

describe('membership scenarios', () => {
  it('concurrent claimants: the losing commit\'s transitions lose with its ring, and its change commits afterwards', async () => {
    for (const seed of [1, 2, 3]) {
      const lines = await traceOf(seed, 'concurrent-claimants')
      // Both sides committed, each as the claimant, while the partition held.
      const healed = lines.findIndex((line) => line.includes('partition healed'))
      const commits = lines.slice(0, healed).filter((line) => /membership: admin\.commit \{"forwarded":true\} via n[13]: ok/.test(line))
      expect(commits, `seed ${seed}`).toHaveLength(2)
    }
  })

  it('force-remove: a node gone for good is removed, and every acknowledged write stays readable at R = N', async () => {
    const removed = new Set<string>()
    // Seeds that remove each node once, the claimant n1 among them.
    for (const seed of [1, 3, 5, 6]) {
      const lines = await traceOf(seed, 'force-remove')
      const change = configure({seed, scenario: 'force-remove'}).membership
      if (change.kind !== 'force-remove') throw new Error('the scenario is a forced removal')
      removed.add(change.node)
      expect(lines.some((line) => line.includes(`${change.node} is gone for good`))).toBe(true)
      // The commit's outcome (the node left on every view) is checked by the run itself.
      expect(lines.some((line) => line.includes(`membership: admin.stage {"action":"remove","name":"${change.node}"}`) && line.endsWith(': ok'))).toBe(true)
    }
    // A dead claimant (n1) too: the next member takes the claim (core/membership.ts claimant).
    expect([...removed].sort()).toEqual(['n1', 'n2', 'n3', 'n4'])
  })

  it('names the scenario in the replay command', () => {
    expect(replayCommand({seed: 7, scenario: 'force-remove'})).toBe('npm run sim -- --seed 7 --scenario force-remove --verbose')
    expect(configure({seed: 7, scenario: 'force-remove'}).quorumMin).toBe(2)
  })
})
