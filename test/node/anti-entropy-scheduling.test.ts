// Which exchange anti-entropy runs next and how fast: a returning peer's partitions first,
// follow-ups back to back with the peer found different, a quicker pace while clients are
// away and the base pace while they are busy. Virtual time only (AeCluster's clock).
import {describe, expect, it} from 'vitest'
import {DynError} from '../../src/core/errors.js'
import type {RequestOf} from '../../src/core/protocol.js'
import {latencyWindowMs} from '../../src/node/anti-entropy-latency.js'
import {Health} from '../../src/node/health.js'
import type {Transport} from '../../src/node/ports.js'
import {AeCluster, keysOf, partitionCount} from './anti-entropy-harness.js'
import {bytes} from './harness.js'

const stepMs = 100

/** Ticks `names` every stepMs from the cluster's current time for `spanMs`, waiting for
 * their background work after each tick; `each` runs before every tick. */
async function run(cluster: AeCluster, names: readonly string[], spanMs: number, each: () => void = () => {}): Promise<void> {
  const untilMs = cluster.nowMs + spanMs
  while (cluster.nowMs < untilMs) {
    cluster.nowMs += stepMs
    each()
    for (const name of names) cluster.node(name).tick()
    await cluster.idle()
  }
}

function exchangesBy(cluster: AeCluster, from: string, sinceIndex = 0): Array<{to: string; partition: number; atMs: number}> {
  return cluster.sent
    .slice(sinceIndex)
    .filter((entry) => entry.from === from && entry.type === 'tree.branches')
    .map((entry) => ({to: entry.to, partition: (entry.payload as RequestOf<'tree.branches'>).partition, atMs: entry.atMs}))
}

/** Client requests at `perSecond` as n1 sees them, 1 ms each: fast, so that only the rate
 * (not the latency back-off) can slow anti-entropy down. */
function clients(cluster: AeCluster, perSecond: number): () => void {
  return () => {
    for (let i = 0; i < (perSecond * stepMs) / 1000; i++) cluster.node('n1').latency.record(1)
  }
}

describe('anti-entropy scheduling', () => {
  it('exchanges the partitions shared with a peer that returns before any other', async () => {
    // Four nodes, N=3: n1 shares only some of its partitions with n4.
    const cluster = new AeCluster({intervalMs: 1_000, intervalIdleMs: 1_000}, [], 4)
    const n1 = cluster.node('n1')
    const own = Array.from({length: partitionCount}, (_, p) => p).filter((p) => n1.view.replicates(p))
    const shared = own.filter((p) => n1.view.primaries(p).includes('n4'))
    expect(shared.length).toBeGreaterThan(0)
    expect(shared.length).toBeLessThan(own.length)
    // n4 is away long enough to be suspected and misses a write in every shared partition.
    cluster.down.add('n4')
    await run(cluster, ['n1'], 8_000)
    expect(n1.health.isHealthy('n4')).toBe(false)
    for (const partition of shared) {
      const response = await n1.handle('kv.put', {key: bytes(keysOf(partition, 1)[0]!), value: bytes('while n4 was away'), w: 1})
      expect(response.ok).toBe(true)
    }
    expect(shared.every((p) => cluster.treesEqual('n1', 'n4', p))).toBe(false)
    cluster.down.delete('n4')
    const from = cluster.sent.length
    await run(cluster, ['n1'], 1_500)
    expect(n1.health.isHealthy('n4')).toBe(true)
    const exchanges = exchangesBy(cluster, 'n1', from)
    const first = exchanges.findIndex((exchange) => exchange.to === 'n4')
    // At most one round-robin exchange was already under way when n4 was heard again.
    expect(first).toBeGreaterThanOrEqual(0)
    expect(first).toBeLessThanOrEqual(1)
    const queued = exchanges.slice(first, first + shared.length)
    expect(queued.map((exchange) => exchange.to)).toEqual(shared.map(() => 'n4'))
    expect(queued.map((exchange) => exchange.partition).sort((a, b) => a - b)).toEqual(shared)
    // Back to back, not one per interval.
    expect(queued.at(-1)!.atMs - queued[0]!.atMs).toBeLessThanOrEqual(stepMs)
    expect(n1.antiEntropy.stats.prioritizedExchanges).toBe(shared.length)
    expect(shared.every((p) => cluster.treesEqual('n1', 'n4', p))).toBe(true)
    expect(cluster.errors).toEqual([])
  })

  it('follows an exchange that found differences at once, with the same peer', async () => {
    const cluster = new AeCluster({intervalMs: 1_000, intervalIdleMs: 1_000})
    for (let partition = 0; partition < partitionCount; partition++) {
      for (const key of keysOf(partition, 2)) await cluster.writeWithout('n3', 'n1', key, 'v')
    }
    cluster.nowMs = 10_000
    const n1 = cluster.node('n1')
    await run(cluster, ['n1'], 20_000)
    const exchanges = exchangesBy(cluster, 'n1')
    const first = exchanges.findIndex((exchange) => exchange.to === 'n3')
    expect(first).toBeGreaterThanOrEqual(0)
    // From the first difference on, the round robin stays with n3 and does not wait: every
    // other partition is repaired within the same tick.
    const followUps = exchanges.slice(first, first + partitionCount)
    expect(followUps.every((exchange) => exchange.to === 'n3')).toBe(true)
    expect(new Set(followUps.map((exchange) => exchange.partition)).size).toBe(partitionCount)
    expect(followUps.at(-1)!.atMs - followUps[0]!.atMs).toBeLessThanOrEqual(stepMs)
    for (let p = 0; p < partitionCount; p++) expect(cluster.treesEqual('n1', 'n3', p)).toBe(true)
    expect(n1.antiEntropy.stats.keysRepaired).toBe(2 * partitionCount)
  })

  const rateSettings = {keysPerExchangeMax: 10, keysPerSecondMax: 10, keysPerSecondIdleMax: 100, intervalMs: 1_000, intervalIdleMs: 100, busyRequestsPerSecond: 100}

  /** A cluster in which n3 missed `count` keys of partition 2, with the writes' latency
   * samples out of the recent window. */
  async function diverged(count: number): Promise<AeCluster> {
    const cluster = new AeCluster(rateSettings)
    for (const key of keysOf(2, count)) await cluster.writeWithout('n3', 'n1', key, 'v')
    cluster.nowMs = 10_000
    return cluster
  }

  it('raises the exchange rate while no client is around', async () => {
    const cluster = await diverged(600)
    const n1 = cluster.node('n1')
    expect(n1.antiEntropy.foregroundLoad()).toBe(0)
    expect(n1.antiEntropy.pace()).toEqual({intervalMs: 100, keysPerSecond: 100})
    const spanMs = 3_000
    await run(cluster, ['n1'], spanMs)
    // The loaded pace allows at most a bucket plus keysPerSecondMax × span: 40 keys.
    const loadedBoundKeys = rateSettings.keysPerExchangeMax + (rateSettings.keysPerSecondMax * spanMs) / 1000
    expect(n1.antiEntropy.stats.keysRepaired).toBeGreaterThan(3 * loadedBoundKeys)
    expect(n1.antiEntropy.stats.keysRepaired).toBeLessThanOrEqual(rateSettings.keysPerExchangeMax + (rateSettings.keysPerSecondIdleMax * spanMs) / 1000)

    // Equal replicas are compared every intervalIdleMs (± jitter), not every intervalMs.
    const quiet = new AeCluster(rateSettings)
    const from = quiet.sent.length
    await run(quiet, ['n1'], 10_000)
    expect(exchangesBy(quiet, 'n1', from).length).toBeGreaterThan(50)
    expect(cluster.errors).toEqual([])
  })

  it('lowers it to the base pace while clients keep the node busy, without stopping', async () => {
    const cluster = await diverged(600)
    const n1 = cluster.node('n1')
    // Idle first: fast.
    await run(cluster, ['n1'], 2_000)
    const idleRepaired = n1.antiEntropy.stats.keysRepaired
    expect(idleRepaired).toBeGreaterThan(100)
    // Clients arrive at twice the busy rate, and stay fast (no latency back-off).
    const busy = clients(cluster, 2 * rateSettings.busyRequestsPerSecond)
    await run(cluster, ['n1'], latencyWindowMs, busy)
    expect(n1.antiEntropy.foregroundLoad()).toBe(1)
    expect(n1.antiEntropy.pace()).toEqual({intervalMs: 1_000, keysPerSecond: 10})
    expect(n1.antiEntropy.foregroundSlow()).toBe(false)
    const before = n1.antiEntropy.stats.keysRepaired
    const spanMs = 3_000
    await run(cluster, ['n1'], spanMs, busy)
    const loadedRepaired = n1.antiEntropy.stats.keysRepaired - before
    expect(loadedRepaired).toBeGreaterThan(0)
    expect(loadedRepaired).toBeLessThanOrEqual(rateSettings.keysPerExchangeMax + (rateSettings.keysPerSecondMax * spanMs) / 1000)

    // Half the busy rate: halfway between the two paces.
    const half = clients(cluster, rateSettings.busyRequestsPerSecond / 2)
    await run(cluster, ['n1'], latencyWindowMs, half)
    expect(n1.antiEntropy.foregroundLoad()).toBeCloseTo(0.5, 1)
    expect(n1.antiEntropy.pace().keysPerSecond).toBeCloseTo(55, -1)
    expect(cluster.errors).toEqual([])
  })

  it('queues the partitions shared with the new owners when a handoff finishes', async () => {
    const cluster = new AeCluster({intervalMs: 1_000, intervalIdleMs: 1_000})
    const n1 = cluster.node('n1')
    // The Node wires handoff.ts's onFinished to prioritize: call it as the handoff does.
    n1.antiEntropy.prioritize('n2')
    expect(n1.antiEntropy.queued).toBe(partitionCount)
    n1.antiEntropy.prioritize('n2')
    expect(n1.antiEntropy.queued).toBe(partitionCount)
    n1.antiEntropy.prioritize('n1')
    expect(n1.antiEntropy.queued).toBe(partitionCount)
    n1.tick()
    await cluster.idle()
    cluster.nowMs += stepMs
    n1.tick()
    await cluster.idle()
    expect(exchangesBy(cluster, 'n1').map((exchange) => exchange.to)).toEqual(Array.from({length: partitionCount}, () => 'n2'))
    expect(n1.antiEntropy.queued).toBe(0)
  })
})

describe('health', () => {
  it('tells listeners once when a suspected peer is heard again', async () => {
    let nowMs = 0
    let up = false
    const transport: Transport = {
      request: async () => {
        if (!up) throw new DynError('cannot reach n2', {code: 'CONNECT_FAILED'})
        return {ok: true} as never
      },
    }
    const health = new Health('n1', {transport, clock: {nowMs: () => nowMs}})
    const recovered: string[] = []
    health.onRecovered((node) => recovered.push(node))
    health.heard('n2')
    expect(recovered).toEqual([])
    for (; nowMs <= 3_000; nowMs += 1_000) await Promise.all(health.tick(['n2']))
    expect(health.isHealthy('n2')).toBe(false)
    up = true
    await Promise.all(health.tick(['n2']))
    expect(health.isHealthy('n2')).toBe(true)
    health.heard('n2')
    expect(recovered).toEqual(['n2'])
  })
})
