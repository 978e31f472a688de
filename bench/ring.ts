// Load-balancing efficiency of partitioning strategies 1 and 3 (Dynamo §6.2, Figure 8).
// Efficiency = mean load / max load over nodes, where the load of a node is the fraction of
// uniformly distributed keys it stores as one of the N replicas of their preference list.
// Computed exactly from range sizes (no key sampling):
//   strategy 1: T random tokens per node; the range (previous token, token] belongs to the
//               token's node and is stored by the first N distinct nodes clockwise from it.
//               Tokens come from a seeded PRNG; results are averaged over `seedCount` seeds.
//   strategy 3: Q = S * T equal partitions placed by dyn's claim (src/core/claim.ts); a
//               partition is stored by the first N distinct owners clockwise from it.
// Usage: npm run bench:ring [-- --json]
import {layoutGrid, targetCounts} from '../src/core/claim.js'
import {createRing} from '../src/core/ring.js'

/** Nodes and replicas of the paper's experiment (Dynamo §6.2: "a system with 30 nodes and N=3"). */
const nodeCount = 30
const replicas = 3
/** Tokens per node compared; the x-axis of Figure 8 divided by the node count. */
const tokensPerNodeList = [1, 2, 4, 8, 16, 32, 64, 128, 256]
/** Seeds averaged for strategy 1; its efficiency varies from layout to layout. */
const seedCount = 20

interface Result {
  strategy: 1 | 3
  tokensPerNode: number
  efficiency: number
}

/** mulberry32: a small, well-mixed 32-bit PRNG, enough for placing tokens. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** Loads of ranges [i] with length lengths[i] and owner owners[i], each stored by the first
 * `replicas` distinct owners from i clockwise. */
function replicaLoads(owners: readonly number[], lengths: readonly number[]): number[] {
  const loads = new Array<number>(nodeCount).fill(0)
  const count = owners.length
  for (let i = 0; i < count; i++) {
    const holders: number[] = []
    for (let step = 0; step < count && holders.length < replicas; step++) {
      const owner = owners[(i + step) % count]!
      if (!holders.includes(owner)) holders.push(owner)
    }
    for (const holder of holders) loads[holder]! += lengths[i]!
  }
  return loads
}

function efficiency(loads: readonly number[]): number {
  const mean = loads.reduce((a, b) => a + b, 0) / loads.length
  return mean / Math.max(...loads)
}

function strategy1(tokensPerNode: number, seed: number): number {
  const random = mulberry32(seed)
  const tokens: {position: number; node: number}[] = []
  for (let node = 0; node < nodeCount; node++) {
    for (let t = 0; t < tokensPerNode; t++) tokens.push({position: random(), node})
  }
  tokens.sort((a, b) => a.position - b.position)
  // Range i ends at token i and starts after token i-1 (wrapping round at 1).
  const lengths = tokens.map((token, i) => (i === 0 ? token.position + 1 - tokens[tokens.length - 1]!.position : token.position - tokens[i - 1]!.position))
  return efficiency(replicaLoads(tokens.map((token) => token.node), lengths))
}

function strategy3(q: number): number {
  const names = Array.from({length: nodeCount}, (_, i) => `n${String(i).padStart(2, '0')}`)
  const counts = targetCounts({q, n: replicas, nodes: names.map((name) => ({name, weight: 1}))})
  const owners = layoutGrid(q, counts).map((name) => names.indexOf(name))
  return efficiency(replicaLoads(owners, new Array<number>(q).fill(1 / q)))
}

/** dyn's own rings: Q a power of two, so Q/S is fractional and nodes own floor or ceil. */
function dynRing(q: number): number {
  const ring = createRing({partitionCount: q, replicas, nodes: Array.from({length: nodeCount}, (_, i) => ({name: `n${String(i).padStart(2, '0')}`}))})
  const owners = ring.owners.map((name) => Number(name.slice(1)))
  return efficiency(replicaLoads(owners, new Array<number>(q).fill(1 / q)))
}

function run(): Result[] {
  const results: Result[] = []
  for (const tokensPerNode of tokensPerNodeList) {
    let total = 0
    for (let seed = 1; seed <= seedCount; seed++) total += strategy1(tokensPerNode, seed)
    results.push({strategy: 1, tokensPerNode, efficiency: total / seedCount})
  }
  for (const tokensPerNode of tokensPerNodeList) {
    results.push({strategy: 3, tokensPerNode, efficiency: strategy3(nodeCount * tokensPerNode)})
  }
  return results
}

const results = run()
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({results: results.map((r) => ({strategy: r.strategy, tokensPerNode: r.tokensPerNode, efficiency: round(r.efficiency)}))}))
} else {
  console.log(`Load-balancing efficiency (mean/max replica load), S = ${nodeCount}, N = ${replicas}; strategy 1 averaged over ${seedCount} seeds`)
  console.log('tokens/node  metadata (S*T)  strategy 1  strategy 3')
  for (const tokensPerNode of tokensPerNodeList) {
    const one = results.find((r) => r.strategy === 1 && r.tokensPerNode === tokensPerNode)!
    const three = results.find((r) => r.strategy === 3 && r.tokensPerNode === tokensPerNode)!
    console.log(`${pad(tokensPerNode, 11)}  ${pad(nodeCount * tokensPerNode, 14)}  ${pad(round(one.efficiency), 10)}  ${pad(round(three.efficiency), 10)}`)
  }
  console.log('\ndyn rings (Q a power of two, Q/S fractional):')
  console.log('          Q  tokens/node  efficiency')
  for (const q of [64, 128, 256, 512, 1024, 2048, 4096]) {
    console.log(`${pad(q, 11)}  ${pad(round(q / nodeCount), 11)}  ${pad(round(dynRing(q)), 10)}`)
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000
}

function pad(value: number, width: number): string {
  return String(value).padStart(width)
}
