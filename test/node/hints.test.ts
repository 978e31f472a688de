// Sloppy quorum and hinted handoff (DESIGN §5) on the in-memory cluster.
import {describe, expect, it} from 'vitest'
import {partitionOfKey} from '../../src/core/hash.js'
import {preferenceList} from '../../src/core/ring.js'
import {decodeHintKey, hintsPartition} from '../../src/node/hints.js'
import {TestCluster, bytes, text} from './harness.js'

function keyWithPrimary(cluster: TestCluster, node: string): Uint8Array {
  for (let i = 0; i < 1000; i++) {
    const key = bytes(`key-${i}`)
    const primaries = preferenceList(cluster.ring, {key}, {n: 3}).primaries
    // A key the node replicates but does not coordinate, so its coordinator stays up.
    if (primaries.includes(node) && primaries[0] !== node) return key
  }
  throw new Error('no such key')
}

async function hintsOn(cluster: TestCluster, name: string) {
  const hints = []
  for await (const {key} of cluster.stores.get(name)!.entries(hintsPartition)) hints.push(decodeHintKey(key))
  return hints
}

/** Ticks the cluster and runs the fallback's delivery rounds until it holds no hint (at
 * most five rounds). */
async function deliverHints(cluster: TestCluster, fallback: string): Promise<void> {
  for (let round = 0; round < 5 && (await hintsOn(cluster, fallback)).length > 0; round++) {
    for (const node of cluster.nodes.values()) node.tick()
    await cluster.idle()
    await cluster.node(fallback).hints.deliverRound()
  }
}

describe('sloppy quorum and hinted handoff', () => {
  it('writes to a fallback with a hint while a primary is down, and delivers it when the primary returns', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3', 'n4', 'n5'], n: 3, w: 3})
    await cluster.start()
    const key = keyWithPrimary(cluster, 'n3')
    const partition = partitionOfKey(key, cluster.ring.partitionCount)
    const coordinator = cluster.node(preferenceList(cluster.ring, {key}, {n: 3}).primaries[0]!)
    cluster.down.add('n3')
    // The first writes find n3 unreachable; after two failures it is suspected and W=3 is
    // met with a fallback instead.
    await coordinator.handle('kv.put', {key, value: bytes('v0')})
    await coordinator.handle('kv.put', {key, value: bytes('v0')})
    const put = await coordinator.handle('kv.put', {key, value: bytes('v1')})
    if (!put.ok) throw new Error(put.error.message)
    const fallbackReply = put.quorum.replies.find((reply) => reply.fallbackFor === 'n3')
    expect(fallbackReply).toBeDefined()
    const fallback = fallbackReply!.node
    expect(await hintsOn(cluster, fallback)).toContainEqual({target: 'n3', partition, key})
    expect(await cluster.stores.get(fallback)!.get(partition, key)).toBeDefined()

    // n3 returns: heartbeats clear the suspicion, the next round delivers the hint.
    cluster.down.delete('n3')
    await deliverHints(cluster, fallback)
    expect(await hintsOn(cluster, fallback)).toEqual([])
    expect(cluster.node(fallback).hints.pending).toBe(0)
    expect(cluster.node(fallback).hints.delivered).toBe(1)
    expect(await cluster.stores.get('n3')!.get(partition, key)).toBeDefined()
    // The fallback does not replicate the key: its stand-in copy is gone after delivery.
    expect(await cluster.stores.get(fallback)!.get(partition, key)).toBeUndefined()
    const got = await cluster.node('n3').handle('kv.get', {key, r: 3})
    if (!got.ok) throw new Error(got.error.message)
    expect(got.siblings.map((sibling) => text(sibling.value))).toContain('v1')
    expect(cluster.errors).toEqual([])
  })

  it('also writes to a fallback with a hint when a primary not yet suspected times out', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3', 'n4'], n: 3, w: 2})
    await cluster.start()
    const key = keyWithPrimary(cluster, 'n3')
    const partition = partitionOfKey(key, cluster.ring.partitionCount)
    const list = preferenceList(cluster.ring, {key}, {n: 3})
    const coordinator = cluster.node(list.primaries[0]!)
    const fallback = list.fallbacks[0]!
    // n3 takes requests and never answers: each one times out.
    cluster.slow.add('n3')
    const put = await coordinator.handle('kv.put', {key, value: bytes('v1')})
    if (!put.ok) throw new Error(put.error.message)
    // W=2 was met by the two other primaries, and n3 was not suspected yet: it was asked.
    expect(put.quorum.replies.find((reply) => reply.node === 'n3')?.status).toBe('timeout')
    await cluster.idle()
    expect(coordinator.kv.hintedTimeouts).toBe(1)
    expect(await hintsOn(cluster, fallback)).toContainEqual({target: 'n3', partition, key})
    expect(await cluster.stores.get(fallback)!.get(partition, key)).toBeDefined()
    // n3 answers again: the fallback hands the write over.
    cluster.slow.delete('n3')
    await deliverHints(cluster, fallback)
    expect(await hintsOn(cluster, fallback)).toEqual([])
    expect(await cluster.stores.get('n3')!.get(partition, key)).toBeDefined()
    expect(cluster.errors).toEqual([])
  })

  it('keeps hints across a restart: a new node object on the same store delivers them', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3', 'n4'], n: 3, w: 2})
    await cluster.start()
    const key = keyWithPrimary(cluster, 'n3')
    const coordinator = cluster.node(preferenceList(cluster.ring, {key}, {n: 3}).primaries[0]!)
    cluster.down.add('n3')
    for (let i = 0; i < 3; i++) await coordinator.handle('kv.put', {key, value: bytes(`v${i}`)})
    await cluster.idle()
    const holders = []
    for (const name of ['n1', 'n2', 'n4']) if ((await hintsOn(cluster, name)).length > 0) holders.push(name)
    expect(holders).toHaveLength(1)
    const restarted = cluster.restart(holders[0]!)
    await restarted.start()
    expect(restarted.hints.pending).toBe(1)
    cluster.down.delete('n3')
    expect(restarted.hints.delivered).toBe(0)
    await restarted.hints.deliverRound()
    expect(restarted.hints.pending).toBe(0)
    expect(restarted.hints.delivered).toBe(1)
    expect(await hintsOn(cluster, holders[0]!)).toEqual([])
  })

  it('keeps the hint when the copy changed during delivery', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3', 'n4'], n: 3, w: 2})
    await cluster.start()
    const key = keyWithPrimary(cluster, 'n3')
    const partition = partitionOfKey(key, cluster.ring.partitionCount)
    const coordinator = cluster.node(preferenceList(cluster.ring, {key}, {n: 3}).primaries[0]!)
    cluster.down.add('n3')
    for (let i = 0; i < 3; i++) await coordinator.handle('kv.put', {key, value: bytes(`v${i}`)})
    await cluster.idle()
    let fallback = ''
    for (const name of ['n1', 'n2', 'n4']) if ((await hintsOn(cluster, name)).length > 0) fallback = name
    cluster.down.delete('n3')
    // A write reaches the fallback while its delivery is in flight.
    cluster.beforeDeliver = async (peer, type) => {
      if (peer === 'n3' && type === 'replica.put') {
        cluster.beforeDeliver = undefined
        await coordinator.handle('kv.put', {key, value: bytes('late')})
      }
    }
    await cluster.node(fallback).hints.deliverRound()
    // The newer copy is still there with its hint, for the next round.
    expect(await hintsOn(cluster, fallback)).toEqual([{target: 'n3', partition, key}])
    // Only a settled hint counts as delivered.
    expect(cluster.node(fallback).hints.delivered).toBe(0)
    await cluster.node(fallback).hints.deliverRound()
    expect(await hintsOn(cluster, fallback)).toEqual([])
    expect(cluster.node(fallback).hints.delivered).toBe(1)
    const got = await cluster.node('n3').handle('kv.get', {key, r: 1})
    if (!got.ok) throw new Error(got.error.message)
  })
})
