// Which replicas a get asks (node/kv.ts askReplicasToGet): R of them with the coordinator
// first, the next one when one fails, every remaining one after the speculative delay when
// one stays silent, and all of them with readFanout 'all'.
import {describe, expect, it} from 'vitest'
import type {GetResponse} from '../../src/core/protocol.js'
import {preferenceList} from '../../src/core/ring.js'
import {ReplicaReadLatency, speculativeDelayMsDefault, speculativeDelayMsMin} from '../../src/node/kv.js'
import {TestCluster, bytes, text} from './harness.js'

function okGet(response: GetResponse): Extract<GetResponse, {ok: true}> {
  if (!response.ok) throw new Error(`expected success, got ${response.error.code}: ${response.error.message}`)
  return response
}

/** A cluster of three with one key written, and the key's primaries in preference order. */
async function clusterWithKey(): Promise<{cluster: TestCluster; key: Uint8Array; primaries: string[]; asked: string[]}> {
  const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
  const key = bytes('fan-out')
  const primaries = [...preferenceList(cluster.ring, {key}, {n: 3}).primaries]
  const written = await cluster.node(primaries[0]!).handle('kv.put', {key, value: bytes('v')})
  expect(written.ok).toBe(true)
  await cluster.idle()
  const asked: string[] = []
  cluster.beforeDeliver = async (peer, type) => {
    if (type === 'replica.get') asked.push(peer)
  }
  return {cluster, key, primaries, asked}
}

describe('a get', () => {
  it('asks R replicas, its coordinator first, when they answer', async () => {
    const {cluster, key, primaries, asked} = await clusterWithKey()
    const [first, second, third] = primaries as [string, string, string]
    const read = okGet(await cluster.node(first).handle('kv.get', {key}))
    expect(read.siblings.map((sibling) => text(sibling.value))).toEqual(['v'])
    expect(read.quorum.replies.map((reply) => reply.node).sort()).toEqual([first, second].sort())
    expect(read.quorum.pending).toEqual([])
    expect(asked).toEqual([second])
    expect(asked).not.toContain(third)
    // R=3 asks all three.
    asked.length = 0
    const all = okGet(await cluster.node(first).handle('kv.get', {key, r: 3}))
    expect(all.quorum.replies.map((reply) => reply.node).sort()).toEqual([...primaries].sort())
  })

  it('asks the next replica when one it asked fails', async () => {
    const {cluster, key, primaries, asked} = await clusterWithKey()
    const [first, second, third] = primaries as [string, string, string]
    cluster.down.add(second)
    const read = okGet(await cluster.node(first).handle('kv.get', {key}))
    expect(read.siblings.map((sibling) => text(sibling.value))).toEqual(['v'])
    const byNode = new Map(read.quorum.replies.map((reply) => [reply.node, reply.status]))
    expect(byNode.get(first)).toBe('ok')
    expect(byNode.get(third)).toBe('ok')
    expect(byNode.get(second)).toBe('error')
    expect(asked).toEqual([second, third])
  })

  it('asks every remaining replica after the speculative delay when one stays silent', async () => {
    const {cluster, key, primaries, asked} = await clusterWithKey()
    const [first, second, third] = primaries as [string, string, string]
    const delays: number[] = []
    Object.assign(cluster.clock, {
      schedule: (delayMs: number, run: () => void) => {
        delays.push(delayMs)
        const timer = setTimeout(run, 1)
        return {cancel: () => clearTimeout(timer)}
      },
    })
    cluster.beforeDeliver = async (peer, type) => {
      if (type !== 'replica.get') return
      asked.push(peer)
      if (peer === second) await new Promise(() => undefined) // never answers
    }
    const read = okGet(await cluster.node(first).handle('kv.get', {key}))
    expect(read.siblings.map((sibling) => text(sibling.value))).toEqual(['v'])
    expect(read.quorum.replies.map((reply) => reply.node).sort()).toEqual([first, third].sort())
    expect(read.quorum.pending).toEqual([second])
    expect(asked).toEqual([second, third])
    // No replica read measured yet: the default delay, within half the request timeout.
    expect(delays).toEqual([Math.min(speculativeDelayMsDefault, 100 / 2)])
  })

  it('asks every replica at once with readFanout all', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    for (const node of cluster.nodes.values()) Object.assign(node.config, {readFanout: 'all'})
    const key = bytes('fan-out')
    const primaries = [...preferenceList(cluster.ring, {key}, {n: 3}).primaries]
    await cluster.node(primaries[0]!).handle('kv.put', {key, value: bytes('v')})
    await cluster.idle()
    const read = okGet(await cluster.node(primaries[0]!).handle('kv.get', {key}))
    await cluster.idle()
    const asked = new Set([...read.quorum.replies.map((reply) => reply.node), ...read.quorum.pending])
    expect([...asked].sort()).toEqual([...primaries].sort())
  })
})

describe('the speculative delay', () => {
  it('is the p99 of the last 256 replica reads, within its bounds', () => {
    const latency = new ReplicaReadLatency()
    expect(latency.speculativeDelayMs(2000)).toBe(speculativeDelayMsDefault)
    for (let i = 1; i <= 256; i++) latency.record(i <= 253 ? 20 : 400)
    // 99% of 256 is 253.4: the 254th smallest, one of the slow ones.
    expect(latency.speculativeDelayMs(2000)).toBe(400)
    expect(latency.speculativeDelayMs(300)).toBe(150)
    for (let i = 0; i < 256; i++) latency.record(1)
    expect(latency.speculativeDelayMs(2000)).toBe(speculativeDelayMsMin)
  })
})
