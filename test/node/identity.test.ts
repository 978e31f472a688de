// A node started under its old name on an empty data directory (identity.ts): the cluster
// tells it that its name wrote before, and it writes under a new actor, so that its new dots
// never repeat old ones.
import {describe, expect, it} from 'vitest'
import {createView, findMember} from '../../src/core/membership.js'
import {viewFromJson, viewToJson} from '../../src/node/gossip.js'
import type {PutResponse} from '../../src/core/protocol.js'
import {TestCluster, bytes, text} from './harness.js'

function dotOf(response: PutResponse): {node: string; counter: number} {
  if (!response.ok) throw new Error(`expected success, got ${response.error.code}: ${response.error.message}`)
  return response.dot
}

async function startedCluster(): Promise<TestCluster> {
  const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
  await cluster.start()
  return cluster
}

describe('writer identity', () => {
  it('a new cluster writes under the plain node names and announces each data directory', async () => {
    const cluster = await startedCluster()
    const dot = dotOf(await cluster.node('n1').handle('kv.put', {key: bytes('k'), value: bytes('v')}))
    expect(dot.node).toBe('n1')
    await cluster.idle()
    const n1 = cluster.node('n1')
    expect(n1.actors.settled).toBe(true)
    // Every peer now knows the id of n1's data directory.
    for (const name of ['n2', 'n3']) expect(findMember(cluster.node(name).view.view, 'n1')?.dataId).toBe(n1.actors.dataId)
  })

  it('a node back on an empty data directory writes under a new actor, and no acknowledged write is lost', async () => {
    const cluster = await startedCluster()
    const key = bytes('cart')
    const first = dotOf(await cluster.node('n1').handle('kv.put', {key, value: bytes('before')}))
    expect(first).toEqual({node: 'n1', counter: 1})
    await cluster.idle()
    const oldId = cluster.node('n1').actors.dataId

    const n1 = cluster.wipe('n1')
    await n1.start()
    expect(n1.actors.settled).toBe(false)
    expect(n1.actors.dataId).not.toBe(oldId)

    // A blind write: without the new actor it would get dot n1:1 again, which n2 and n3
    // hold as "before" already and would drop as seen.
    const second = dotOf(await n1.handle('kv.put', {key, value: bytes('after')}))
    expect(second.node).toMatch(/^n1~\d+\.0$/)
    expect(cluster.notices.some((notice) => notice.node === 'n1' && notice.level === 'warn' && notice.message.includes(oldId))).toBe(true)
    await cluster.idle()

    const got = await cluster.node('n2').handle('kv.get', {key, r: 3})
    if (!got.ok) throw new Error(got.error.message)
    expect(got.siblings.map((sibling) => text(sibling.value)).sort()).toEqual(['after', 'before'])
    // The new id replaced the old one in every view; the next start settles at once.
    for (const name of ['n2', 'n3']) expect(findMember(cluster.node(name).view.view, 'n1')?.dataId).toBe(n1.actors.dataId)
    const again = cluster.restart('n1')
    await again.start()
    expect(again.actors.settled).toBe(true)
    expect(dotOf(await again.handle('kv.put', {key: bytes('other'), value: bytes('x')})).node).toBe(second.node)
  })

  it('keeps its own record out of the views it sends while unsettled', async () => {
    const cluster = await startedCluster()
    cluster.down.add('n3')
    const n1 = cluster.wipe('n1')
    await n1.start()
    // n2 pushes a view that knows no id for n1; n3 has not answered, so n1 stays unsettled
    // and its answer must not carry a record of itself that could replace a peer's.
    const view = createView({partitionCount: 16, replicas: 3, members: ['n1', 'n2', 'n3'].map((name, i) => ({name, address: `127.0.0.1:${7001 + i}`}))})
    const answer = await n1.handle('gossip.push', {from: 'n2', view: viewToJson(view)})
    if (!answer.ok) throw new Error(answer.error.message)
    expect(n1.actors.settled).toBe(false)
    expect(findMember(viewFromJson(answer.view, 'n2'), 'n1')).toBeUndefined()
    expect(findMember(viewFromJson(answer.view, 'n2'), 'n2')).toBeDefined()
  })

  it('a write that cannot hear from every member moves to a new actor rather than wait', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    cluster.down.add('n3')
    await cluster.start()
    const dot = dotOf(await cluster.node('n1').handle('kv.put', {key: bytes('k'), value: bytes('v')}))
    expect(dot.node).toMatch(/^n1~\d+\.0$/)
  })

  it('a single-node cluster settles at start', async () => {
    const cluster = new TestCluster({names: ['solo'], n: 1, r: 1, w: 1})
    await cluster.start()
    expect(cluster.node('solo').actors.settled).toBe(true)
    expect(dotOf(await cluster.node('solo').handle('kv.put', {key: bytes('k'), value: bytes('v')})).node).toBe('solo')
  })
})
