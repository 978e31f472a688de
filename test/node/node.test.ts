import {describe, expect, it} from 'vitest'
import {decodeObject, encodeContext, formatVersionVector, decodeContext} from '../../src/core/causality.js'
import {partitionOfKey} from '../../src/core/hash.js'
import type {GetResponse, PutResponse} from '../../src/core/protocol.js'
import {preferenceList} from '../../src/core/ring.js'
import {TestCluster, bytes, text} from './harness.js'

function expectOk<T extends GetResponse | PutResponse>(response: T): Extract<T, {ok: true}> {
  if (!response.ok) throw new Error(`expected success, got ${response.error.code}: ${response.error.message}`)
  return response as Extract<T, {ok: true}>
}

function expectFailure(response: GetResponse | PutResponse, code: string) {
  expect(response.ok).toBe(false)
  if (response.ok) throw new Error('unreachable')
  expect(response.error.code).toBe(code)
  return response.error
}

describe('Node', () => {
  it('writes through one node and reads through every node', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    const put = expectOk(await cluster.node('n1').handle('kv.put', {key: bytes('k'), value: bytes('v1')}))
    expect(put.quorum.ok).toBe(true)
    expect(put.quorum.w).toBe(2)
    expect(put.dot.node).toBe(put.quorum.coordinator)
    await cluster.idle()
    for (const name of ['n1', 'n2', 'n3']) {
      const got = expectOk(await cluster.node(name).handle('kv.get', {key: bytes('k')}))
      expect(got.found).toBe(true)
      expect(got.siblings.map((s) => text(s.value))).toEqual(['v1'])
      expect(got.quorum.replies.filter((reply) => reply.status === 'ok').length).toBeGreaterThanOrEqual(2)
    }
  })

  it('keeps concurrent blind writes as siblings and resolves them with a covering context', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    const key = bytes('cart')
    expectOk(await cluster.node('n1').handle('kv.put', {key, value: bytes('a')}))
    expectOk(await cluster.node('n2').handle('kv.put', {key, value: bytes('b')}))
    await cluster.idle()
    const both = expectOk(await cluster.node('n3').handle('kv.get', {key, r: 3}))
    expect(both.siblings.map((s) => text(s.value)).sort()).toEqual(['a', 'b'])
    expectOk(await cluster.node('n3').handle('kv.put', {key, value: bytes('a+b'), context: both.context}))
    await cluster.idle()
    const one = expectOk(await cluster.node('n1').handle('kv.get', {key, r: 3}))
    expect(one.siblings.map((s) => text(s.value))).toEqual(['a+b'])
  })

  it('forwards a request from a node that does not replicate the key to one that does', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3', 'n4'], n: 2, r: 1, w: 1})
    // Find a key that n4 does not replicate.
    const key = Array.from({length: 100}, (_, i) => bytes(`key-${i}`)).find(
      (candidate) => !preferenceList(cluster.ring, {key: candidate}, {n: 2}).primaries.includes('n4'),
    )!
    const put = expectOk(await cluster.node('n4').handle('kv.put', {key, value: bytes('v')}))
    const primaries = preferenceList(cluster.ring, {key}, {n: 2}).primaries
    expect(primaries).toContain(put.quorum.coordinator)
    expect(put.quorum.replies.map((reply) => reply.node)).not.toContain('n4')
    await cluster.idle()
    expect(cluster.stores.get('n4')!.data.size).toBe(0)
  })

  it('meets R=2 with a replica down, fails R=3 and shows which replica failed', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    const key = bytes('k')
    expectOk(await cluster.node('n1').handle('kv.put', {key, value: bytes('v'), w: 3}))
    cluster.down.add('n3')
    const coordinator = cluster.node('n1')
    expectOk(await coordinator.handle('kv.get', {key, r: 2}))
    const error = expectFailure(await coordinator.handle('kv.get', {key, r: 3}), 'QUORUM_NOT_MET')
    expect(error.exitCode).toBe(3)
    expect(error.quorum?.replies.find((reply) => reply.node === 'n3')?.status).toBe('error')
  })

  it('reports a timeout per replica and fails a write that cannot reach W', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    cluster.slow.add('n2')
    cluster.slow.add('n3')
    const error = expectFailure(await cluster.node('n1').handle('kv.put', {key: bytes('k'), value: bytes('v')}), 'QUORUM_NOT_MET')
    const statuses = Object.fromEntries((error.quorum?.replies ?? []).map((reply) => [reply.node, reply.status]))
    expect(statuses).toEqual({n1: 'ok', n2: 'timeout', n3: 'timeout'})
  })

  it('repairs a stale replica on read', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    const key = bytes('k')
    cluster.down.add('n3')
    expectOk(await cluster.node('n1').handle('kv.put', {key, value: bytes('v')}))
    await cluster.idle()
    cluster.down.delete('n3')
    const partition = partitionOfKey(key, cluster.ring.partitionCount)
    expect(await cluster.stores.get('n3')!.get(partition, key)).toBeUndefined()
    const got = expectOk(await cluster.node('n1').handle('kv.get', {key, r: 3}))
    expect(got.quorum.readRepair).toEqual(['n3'])
    await cluster.idle()
    const repaired = await cluster.stores.get('n3')!.get(partition, key)
    expect(repaired).toBeDefined()
    expect(decodeObject(repaired!).siblings).toHaveLength(1)
  })

  it('deletes with a tombstone that keeps the context, and re-creates the key from it', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    const key = bytes('k')
    expectOk(await cluster.node('n1').handle('kv.put', {key, value: bytes('v')}))
    expectOk(await cluster.node('n2').handle('kv.delete', {key}))
    await cluster.idle()
    const gone = expectOk(await cluster.node('n3').handle('kv.get', {key, r: 3}))
    expect(gone.found).toBe(false)
    expect(gone.siblings).toEqual([])
    expect(formatVersionVector(decodeContext(gone.context, {cluster: 'test'}))).not.toBe('(empty)')
    expectOk(await cluster.node('n3').handle('kv.put', {key, value: bytes('again'), context: gone.context}))
    await cluster.idle()
    const back = expectOk(await cluster.node('n1').handle('kv.get', {key, r: 3}))
    expect(back.siblings.map((s) => text(s.value))).toEqual(['again'])
  })

  it('refuses bad input with the named errors', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    const node = cluster.node('n1')
    expect(expectFailure(await node.handle('kv.put', {key: bytes('k'), value: bytes('v'), context: 'garbage'}), 'CONTEXT_INVALID').exitCode).toBe(2)
    const foreign = encodeContext([], {cluster: 'elsewhere'})
    expectFailure(await node.handle('kv.put', {key: bytes('k'), value: bytes('v'), context: foreign}), 'CONTEXT_WRONG_CLUSTER')
    expectFailure(await node.handle('kv.put', {key: new Uint8Array(2000), value: bytes('v')}), 'KEY_TOO_LARGE')
    expectFailure(await node.handle('kv.put', {key: bytes('k'), value: new Uint8Array(1024 * 1024 + 1)}), 'VALUE_TOO_LARGE')
    expectFailure(await node.handle('kv.get', {key: bytes('k'), r: 4}), 'QUORUM_INVALID')
    const wrongPartition = (partitionOfKey(bytes('k'), cluster.ring.partitionCount) + 1) % cluster.ring.partitionCount
    const replica = await node.handle('replica.get', {partition: wrongPartition, key: bytes('k')})
    expect(replica.ok ? 'ok' : replica.error.code).toBe('BAD_REQUEST')
  })

  it('fails a write whose local persist fails, without acknowledging it', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    const key = bytes('k')
    const coordinator = preferenceList(cluster.ring, {key}).primaries[0]!
    cluster.stores.get(coordinator)!.failWrites = true
    // The other replicas get the object while the coordinator persists its own copy, and
    // both acknowledge: W=2 is met without the coordinator, yet the put must fail, because
    // the coordinator's next write to the key would not carry this one (actors.ts).
    expectFailure(await cluster.node(coordinator).handle('kv.put', {key, value: bytes('v')}), 'DISK_FULL')
    await cluster.idle()
    expect(cluster.stores.get(coordinator)!.data.size).toBe(0)
  })

  it('serialises concurrent writes to one key on a replica so none is lost', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3'], w: 3})
    const key = bytes('hot')
    const writes = await Promise.all(
      Array.from({length: 20}, (_, i) => cluster.node(`n${(i % 3) + 1}`).handle('kv.put', {key, value: bytes(`v${i}`)})),
    )
    for (const write of writes) expectOk(write)
    await cluster.idle()
    const got = expectOk(await cluster.node('n1').handle('kv.get', {key, r: 3}))
    expect(got.siblings.map((s) => text(s.value)).sort()).toEqual(Array.from({length: 20}, (_, i) => `v${i}`).sort())
  })
})
