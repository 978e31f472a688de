import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {Buffer} from 'node:buffer'
import {decodeObject} from '../../src/core/causality.js'
import {partitionOfKey} from '../../src/core/hash.js'
import type {RequestOf} from '../../src/core/protocol.js'
import {latencyWindowMs} from '../../src/node/anti-entropy-latency.js'
import {AeCluster, keysOf, partitionCount} from './anti-entropy-harness.js'
import {bytes} from './harness.js'

async function exchangeEverything(cluster: AeCluster): Promise<void> {
  for (let partition = 0; partition < partitionCount; partition++) {
    for (const [a, b] of [['n1', 'n2'], ['n1', 'n3'], ['n2', 'n3']] as const) {
      let result = await cluster.node(a).antiEntropy.exchange(partition, b)
      while (!result.complete) result = await cluster.node(a).antiEntropy.exchange(partition, b)
    }
  }
}

describe('anti-entropy', () => {
  it('makes a replica that missed writes equal to the others, in both directions', async () => {
    const cluster = new AeCluster()
    for (let i = 0; i < 40; i++) await cluster.writeWithout('n3', 'n1', `a-${i}`, `v${i}`)
    for (let i = 0; i < 40; i++) await cluster.writeWithout('n1', 'n2', `b-${i}`, `w${i}`)
    expect(cluster.allConverged()).toBe(false)
    let repaired = 0
    for (let partition = 0; partition < partitionCount; partition++) {
      repaired += (await cluster.node('n1').antiEntropy.exchange(partition, 'n3')).keysRepaired
      expect(cluster.treesEqual('n1', 'n3', partition)).toBe(true)
    }
    expect(repaired).toBe(80)
    for (const name of cluster.names) expect((cluster.node(name).objects.partitions().map((p) => cluster.node(name).objects.keyCount(p))).reduce((a, b) => a + b, 0)).toBe(80)
    await exchangeEverything(cluster)
    expect(cluster.allConverged()).toBe(true)
    expect(cluster.errors).toEqual([])
  })

  it('merges concurrent versions by the causality rule: both sides end with both siblings', async () => {
    const cluster = new AeCluster()
    const key = 'cart'
    await cluster.writeWithout('n3', 'n1', key, 'from-n1')
    // n3 alone takes a blind write of the same key (W=1), concurrent with the first.
    cluster.down.add('n1')
    cluster.down.add('n2')
    const response = await cluster.node('n3').handle('kv.put', {key: bytes(key), value: bytes('from-n3'), w: 1})
    cluster.down.clear()
    expect(response.ok).toBe(true)
    await cluster.idle()
    const partition = partitionOfKey(bytes(key), partitionCount)
    const result = await cluster.node('n1').antiEntropy.exchange(partition, 'n3')
    expect(result.keysDiffering).toBe(1)
    for (const name of ['n1', 'n3']) {
      const object = decodeObject((await cluster.node(name).objects.readBytes(partition, bytes(key)))!)
      expect(object.siblings.map((sibling) => (sibling.kind === 'value' ? Buffer.from(sibling.value).toString() : 'tombstone')).sort()).toEqual(['from-n1', 'from-n3'])
    }
    expect(cluster.treesEqual('n1', 'n3', partition)).toBe(true)
  })

  it('descends only into differing branches and segments', async () => {
    const cluster = new AeCluster()
    const partition = 3
    const [key] = keysOf(partition, 1)
    await cluster.writeWithout('n3', 'n1', key!, 'v')

    const equal = await cluster.node('n1').antiEntropy.exchange(partition + 1, 'n3')
    expect(equal).toMatchObject({requests: 1, branchesDiffering: 0, keysRepaired: 0, complete: true})

    cluster.sent.length = 0
    const result = await cluster.node('n1').antiEntropy.exchange(partition, 'n3')
    expect(result).toMatchObject({branchesDiffering: 1, segmentsDiffering: 1, keysDiffering: 1, keysRepaired: 1, complete: true})
    const types = cluster.sentBy('n1').map((entry) => entry.type)
    // The key exists only on n1: no fetch, one push.
    expect(types).toEqual(['tree.branches', 'tree.leaves', 'tree.keys', 'replica.putMany'])
    const leaves = cluster.sentBy('n1', 'tree.leaves')[0]!.payload as RequestOf<'tree.leaves'>
    const listing = cluster.sentBy('n1', 'tree.keys')[0]!.payload as RequestOf<'tree.keys'>
    const tree = cluster.node('n1').objects.tree(partition)
    const segment = tree.segmentOf(bytes(key!))
    expect(leaves.branches).toEqual([Math.floor(segment / tree.shape.branchWidth)])
    expect(listing.segments).toEqual([segment])
    expect(cluster.treesEqual('n1', 'n3', partition)).toBe(true)
  })

  it('fetches what only the peer has and pushes nothing back when the peer already has it', async () => {
    const cluster = new AeCluster()
    const partition = 5
    const [key] = keysOf(partition, 1)
    await cluster.writeWithout('n1', 'n2', key!, 'v')
    cluster.sent.length = 0
    await cluster.node('n1').antiEntropy.exchange(partition, 'n3')
    expect(cluster.sentBy('n1').map((entry) => entry.type)).toEqual(['tree.branches', 'tree.leaves', 'tree.keys', 'replica.get'])
    expect(cluster.treesEqual('n1', 'n3', partition)).toBe(true)
  })

  it('repairs at most keysPerExchangeMax keys per exchange and keysPerSecondMax over time', async () => {
    const settings = {keysPerExchangeMax: 10, keysPerSecondMax: 20, keysPerSecondIdleMax: 20, intervalMs: 1_000, intervalIdleMs: 1_000, repairIntervalMs: 0}
    const cluster = new AeCluster(settings)
    for (const key of keysOf(2, 60)) await cluster.writeWithout('n3', 'n1', key, 'v')
    // Only n1 runs ticks: its exchanges are the only repairs.
    const n1 = cluster.node('n1')
    const spanMs = 2_000
    const stepMs = 100
    // Start after the writes' latency samples are out of the recent window.
    const fromMs = 10_000
    cluster.nowMs = fromMs
    n1.tick()
    for (let t = fromMs; t <= fromMs + spanMs + 1_500; t += stepMs) {
      cluster.nowMs = t
      n1.tick()
      await cluster.idle()
      expect(n1.antiEntropy.stats.lastExchange?.keysRepaired ?? 0).toBeLessThanOrEqual(10)
    }
    const repaired = n1.antiEntropy.stats.keysRepaired
    // The first exchange starts at most 1.5 s in (interval 1 s, jitter ±50%): from then
    // the budget is the full bucket plus the refill.
    expect(repaired).toBeGreaterThan(0)
    expect(repaired).toBeLessThanOrEqual(10 + (20 * (spanMs + 1_500)) / 1000)
    expect(cluster.errors).toEqual([])
  })

  it('reports an exchange cut short by its budget as incomplete, and finishes it later', async () => {
    const cluster = new AeCluster()
    for (const key of keysOf(1, 30)) await cluster.writeWithout('n2', 'n1', key, 'v')
    const first = await cluster.node('n1').antiEntropy.exchange(1, 'n2', 7)
    expect(first).toMatchObject({keysRepaired: 7, complete: false})
    const rest = await cluster.node('n1').antiEntropy.exchange(1, 'n2', 100)
    expect(rest).toMatchObject({keysRepaired: 23, complete: true})
    expect(cluster.treesEqual('n1', 'n2', 1)).toBe(true)
  })

  it('runs on ticks, one exchange at a time, round robin over the partitions', async () => {
    const cluster = new AeCluster({intervalMs: 1_000, intervalIdleMs: 1_000})
    const n1 = cluster.node('n1')
    const partitions = new Set<number>()
    for (let t = 0; t <= 20_000; t += 100) {
      cluster.nowMs = t
      const before = cluster.sentBy('n1', 'tree.branches').length
      n1.tick()
      n1.tick()
      expect(cluster.sentBy('n1', 'tree.branches').length - before).toBeLessThanOrEqual(1)
      await cluster.idle()
    }
    for (const entry of cluster.sentBy('n1', 'tree.branches')) partitions.add((entry.payload as RequestOf<'tree.branches'>).partition)
    const exchanges = cluster.sentBy('n1', 'tree.branches')
    // 20 s at 1 s ± 50%: between 13 and 40 exchanges, covering every partition.
    expect(exchanges.length).toBeGreaterThanOrEqual(13)
    expect(exchanges.length).toBeLessThanOrEqual(40)
    expect(partitions.size).toBe(partitionCount)
    const order = exchanges.slice(0, partitionCount).map((entry) => (entry.payload as RequestOf<'tree.branches'>).partition)
    expect(order).toEqual(Array.from({length: partitionCount}, (_, p) => p))
  })

  it('pauses while the foreground p99 is above its idle baseline, and resumes after', async () => {
    const cluster = new AeCluster({intervalMs: 1_000})
    const n1 = cluster.node('n1')
    // Two quiet windows of 1 ms requests make the baseline.
    for (let t = 0; t < 2 * latencyWindowMs; t += 50) {
      cluster.nowMs = t
      n1.latency.record(1)
      n1.latency.record(1)
    }
    expect(n1.latency.baselineP99Ms()).toBe(1)
    n1.tick() // sets the first due time
    // Now clients see 40 ms.
    const slowFromMs = cluster.nowMs
    for (let t = slowFromMs; t < slowFromMs + 3_000; t += 50) {
      cluster.nowMs = t
      n1.latency.record(40)
      n1.tick()
      await cluster.idle()
    }
    expect(n1.antiEntropy.foregroundSlow()).toBe(true)
    expect(n1.antiEntropy.stats.pausedTicks).toBeGreaterThan(0)
    expect(cluster.sentBy('n1', 'tree.branches')).toEqual([])
    // Clients fast again: after a window the exchanges resume.
    const fastFromMs = cluster.nowMs
    for (let t = fastFromMs; t < fastFromMs + 3_000; t += 50) {
      cluster.nowMs = t
      n1.latency.record(1)
      n1.tick()
      await cluster.idle()
    }
    expect(n1.antiEntropy.foregroundSlow()).toBe(false)
    expect(cluster.sentBy('n1', 'tree.branches').length).toBeGreaterThan(0)
  })

  it('times client requests through Node.handle, and pauses for a window to learn their baseline', async () => {
    const cluster = new AeCluster()
    const n1 = cluster.node('n1')
    expect(n1.latency.recentP99Ms()).toBeUndefined()
    for (let i = 0; i < 10; i++) await n1.handle('node.ping', {from: 'n2'})
    expect(n1.latency.recentP99Ms()).toBeUndefined()
    expect(n1.antiEntropy.foregroundSlow()).toBe(false)
    for (let i = 0; i < 25; i++) await n1.handle('kv.get', {key: bytes(`k${i}`)})
    expect(n1.latency.recentP99Ms()).toBe(0)
    // Clients are here and nothing says yet how fast they are without anti-entropy.
    expect(n1.antiEntropy.foregroundSlow()).toBe(true)
    cluster.nowMs = latencyWindowMs
    for (let i = 0; i < 25; i++) await n1.handle('kv.get', {key: bytes(`k${i}`)})
    expect(n1.latency.baselineP99Ms()).toBe(0)
    expect(n1.antiEntropy.foregroundSlow()).toBe(false)
  })

  it('leaves windows with background work out of the baseline', async () => {
    const cluster = new AeCluster()
    const n1 = cluster.node('n1')
    for (let i = 0; i < 30; i++) n1.latency.record(5)
    n1.latency.markBackground()
    cluster.nowMs = latencyWindowMs
    for (let i = 0; i < 30; i++) n1.latency.record(1)
    expect(n1.latency.baselineP99Ms()).toBeUndefined()
    cluster.nowMs = 2 * latencyWindowMs
    expect(n1.latency.baselineP99Ms()).toBe(1)
  })

  it('refuses tree requests outside the ring and the tree shape', async () => {
    const cluster = new AeCluster()
    const n1 = cluster.node('n1')
    for (const [type, payload] of [
      ['tree.branches', {partition: partitionCount}],
      ['tree.leaves', {partition: 0, branches: [32]}],
      ['tree.keys', {partition: 0, segments: [1024]}],
    ] as const) {
      const response = await n1.handle(type, payload as never)
      expect(response.ok).toBe(false)
      if (!response.ok) expect(response.error.code).toBe('BAD_REQUEST')
    }
  })

  it('counts a failed exchange, tries again later, and throws nothing at the node', async () => {
    const cluster = new AeCluster({intervalMs: 1_000, intervalIdleMs: 1_000})
    cluster.failing.add('n2')
    cluster.failing.add('n3')
    const n1 = cluster.node('n1')
    for (let t = 0; t <= 1_900; t += 100) {
      cluster.nowMs = t
      n1.tick()
      await cluster.idle()
    }
    expect(n1.antiEntropy.stats.failures).toBeGreaterThan(0)
    expect(n1.antiEntropy.stats.failures).toBeLessThanOrEqual(2)
    expect(n1.antiEntropy.stats.lastError).toMatch(/cannot read its disk/)
    expect(cluster.errors).toEqual([])
    cluster.down.add('n2')
    await expect(n1.antiEntropy.exchange(0, 'n2')).rejects.toMatchObject({code: 'CONNECT_FAILED'})
  })

  it('converges any divergence without losing a write (property)', async () => {
    const write = fc.record({key: fc.integer({min: 0, max: 15}), via: fc.constantFrom('n1', 'n2', 'n3'), missing: fc.constantFrom('n1', 'n2', 'n3')})
    await fc.assert(
      fc.asyncProperty(fc.array(write, {minLength: 1, maxLength: 25}), async (writes) => {
        const cluster = new AeCluster()
        const written: string[] = []
        for (const [i, entry] of writes.entries()) {
          const via = entry.via === entry.missing ? cluster.names.find((name) => name !== entry.missing)! : entry.via
          await cluster.writeWithout(entry.missing, via, `k${entry.key}`, `v${i}`)
          written.push(`k${entry.key}=v${i}`)
        }
        await exchangeEverything(cluster)
        expect(cluster.allConverged()).toBe(true)
        // Writes without a context cover nothing, so every value written must be a sibling
        // of its key on every replica.
        for (const name of cluster.names) {
          for (const keyIndex of new Set(writes.map((entry) => entry.key))) {
            const key = bytes(`k${keyIndex}`)
            const stored = await cluster.node(name).objects.read(partitionOfKey(key, partitionCount), key)
            const values = (stored?.siblings ?? []).map((sibling) => (sibling.kind === 'value' ? `k${keyIndex}=${Buffer.from(sibling.value).toString()}` : 'tombstone'))
            expect(values.sort()).toEqual(written.filter((entry) => entry.startsWith(`k${keyIndex}=`)).sort())
          }
        }
      }),
      {numRuns: 25},
    )
  })
})
