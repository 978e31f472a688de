// The index of conflicted keys (src/node/conflicts.ts, kept by LocalObjects) against a model
// that reads every stored copy, and kv.conflicts on nodes of an in-memory cluster.
import {Buffer} from 'node:buffer'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {applyPut, contextOf, decodeObject, emptyVersionVector, type StoredObject} from '../../src/core/causality.js'
import type {ConflictsResponse, GetResponse, PutResponse} from '../../src/core/protocol.js'
import {LocalObjects} from '../../src/node/objects.js'
import {MapStore, TestCluster, bytes, text} from './harness.js'

const partitions = [0, 1, 2]
/** Keys chosen so byte order differs from UTF-16 order of naive decodings and prefixes occur. */
const keys = [[0x00], [0x61], [0x61, 0x00], [0x61, 0x62], [0x80], [0xc3, 0xa9], [0xff], [0xff, 0x01]].map((key) => Uint8Array.from(key))

function partitionOf(key: Uint8Array): number {
  return key[0]! % partitions.length
}

type Step =
  | {kind: 'put'; key: number; coordinator: string; blind: boolean; tombstone: boolean}
  | {kind: 'remotePut'; key: number; coordinator: string; blind: boolean; tombstone: boolean}
  | {kind: 'merge'; key: number}
  | {kind: 'remove'; key: number}
  | {kind: 'drop'; partition: number}
  | {kind: 'reload'}

const step: fc.Arbitrary<Step> = fc.oneof(
  {weight: 4, arbitrary: fc.record({kind: fc.constant('put' as const), key: fc.nat(keys.length - 1), coordinator: fc.constantFrom('a', 'b'), blind: fc.boolean(), tombstone: fc.boolean()})},
  {weight: 3, arbitrary: fc.record({kind: fc.constant('remotePut' as const), key: fc.nat(keys.length - 1), coordinator: fc.constantFrom('x', 'y'), blind: fc.boolean(), tombstone: fc.boolean()})},
  {weight: 3, arbitrary: fc.record({kind: fc.constant('merge' as const), key: fc.nat(keys.length - 1)})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('remove' as const), key: fc.nat(keys.length - 1)})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('drop' as const), partition: fc.constantFrom(...partitions)})},
  {weight: 1, arbitrary: fc.constant({kind: 'reload' as const})},
)

/** The put rule with a blind or a covering context. */
function put(current: StoredObject | undefined, coordinator: string, blind: boolean, tombstone: boolean): StoredObject {
  const write = tombstone ? {kind: 'tombstone' as const} : {kind: 'value' as const, value: bytes(coordinator)}
  return applyPut(current, {coordinator, context: blind ? emptyVersionVector : contextOf(current), write}).object
}

interface Listed {
  key: string
  partition: number
  dots: string
}

/** The model: every stored copy with more than one sibling, at least one a value, by key bytes. */
async function expectedConflicts(store: MapStore): Promise<Listed[]> {
  const listed: Array<Listed & {bytes: Uint8Array}> = []
  for (const partition of partitions) {
    for await (const {key, value} of store.entries(partition)) {
      const object = decodeObject(value)
      if (object.siblings.length > 1 && object.siblings.some((sibling) => sibling.kind === 'value')) {
        listed.push({bytes: key, key: Buffer.from(key).toString('hex'), partition, dots: dotsOf(object.siblings.map((sibling) => ({...sibling.dot, kind: sibling.kind})))})
      }
    }
  }
  return listed.sort((a, b) => Buffer.compare(a.bytes, b.bytes)).map(({key, partition, dots}) => ({key, partition, dots}))
}

function dotsOf(dots: readonly {node: string; counter: number; kind: string}[]): string {
  return dots.map((dot) => `${dot.node}:${dot.counter}:${dot.kind}`).join(',')
}

function listedOf(page: ReturnType<LocalObjects['conflicts']>): Listed[] {
  return page.keys.map((entry) => ({key: Buffer.from(entry.key).toString('hex'), partition: entry.partition, dots: dotsOf(entry.dots)}))
}

/** Pages through the whole index `limit` keys at a time. */
function pageThrough(objects: LocalObjects, limit: number): Listed[] {
  const listed: Listed[] = []
  let after: Uint8Array | undefined
  for (let pages = 0; pages <= keys.length + 1; pages++) {
    const page = objects.conflicts({after, limit})
    expect(page.keys.length).toBeLessThanOrEqual(limit)
    listed.push(...listedOf(page))
    if (!page.more) return listed
    expect(page.keys.length).toBe(limit)
    after = page.keys.at(-1)!.key
  }
  throw new Error('paging did not end')
}

async function apply(objects: LocalObjects, remote: Map<number, StoredObject>, action: Step): Promise<void> {
  switch (action.kind) {
    case 'put': {
      const key = keys[action.key]!
      await objects.update(partitionOf(key), key, (current) => put(current, action.coordinator, action.blind, action.tombstone))
      return
    }
    case 'remotePut':
      remote.set(action.key, put(remote.get(action.key), action.coordinator, action.blind, action.tombstone))
      return
    case 'merge': {
      const incoming = remote.get(action.key)
      const key = keys[action.key]!
      if (incoming !== undefined) await objects.merge(partitionOf(key), key, incoming)
      return
    }
    case 'remove': {
      const key = keys[action.key]!
      await objects.exclusive(partitionOf(key), key, async (_current, remove) => remove())
      return
    }
    case 'drop':
      await objects.drop(action.partition)
      return
    case 'reload':
      return
  }
}

describe('the conflict index of LocalObjects', () => {
  it('holds exactly the copies with more than one sibling (one a value), and paging lists each once, in byte order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, {minLength: 1, maxLength: 40, size: 'max'}), fc.integer({min: 1, max: 4}), async (steps, limit) => {
        const store = new MapStore()
        let objects = new LocalObjects(store)
        const remote = new Map<number, StoredObject>()
        for (const action of steps) {
          await apply(objects, remote, action)
          if (action.kind === 'reload') {
            objects = new LocalObjects(store)
            await objects.load(await store.partitions())
          }
          expect(listedOf(objects.conflicts({limit: keys.length}))).toEqual(await expectedConflicts(store))
        }
        expect(pageThrough(objects, limit)).toEqual(await expectedConflicts(store))
      }),
      {numRuns: 150},
    )
  })

  it('starts after the given key, even one it does not hold', async () => {
    const store = new MapStore()
    const objects = new LocalObjects(store)
    for (const key of [keys[1]!, keys[3]!, keys[6]!]) {
      await objects.update(partitionOf(key), key, (current) => put(current, 'a', true, false))
      await objects.update(partitionOf(key), key, (current) => put(current, 'b', true, false))
    }
    const after = (key: Uint8Array) => objects.conflicts({after: key, limit: 10}).keys.map((entry) => Buffer.from(entry.key).toString('hex'))
    expect(after(keys[1]!)).toEqual(['6162', 'ff'])
    expect(after(keys[2]!)).toEqual(['6162', 'ff'])
    expect(after(keys[6]!)).toEqual([])
    expect(objects.conflicts({after: Uint8Array.of(0x61), limit: 1})).toMatchObject({more: true})
  })
})

function expectOk<T extends GetResponse | PutResponse | ConflictsResponse>(response: T): Extract<T, {ok: true}> {
  if (!response.ok) throw new Error(`expected success, got ${response.error.code}: ${response.error.message}`)
  return response as Extract<T, {ok: true}>
}

async function conflictsOn(cluster: TestCluster, name: string): Promise<Array<{key: string; siblings: number; dots: string}>> {
  const response = expectOk(await cluster.node(name).handle('kv.conflicts', {limit: 100}))
  expect(response.node).toBe(name)
  return response.keys.map((entry) => ({key: text(entry.key), siblings: entry.siblings, dots: dotsOf(entry.dots)}))
}

describe('kv.conflicts on a node', () => {
  it('lists two concurrent blind puts on every replica; a put with the covering context takes the key off', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    const key = bytes('cart')
    const [a, b] = await Promise.all([
      cluster.node('n1').handle('kv.put', {key, value: bytes('a')}),
      cluster.node('n2').handle('kv.put', {key, value: bytes('b')}),
    ])
    expectOk(await cluster.node('n1').handle('kv.put', {key: bytes('calm'), value: bytes('v')}))
    await cluster.idle()
    const dots = dotsOf([expectOk(a).dot, expectOk(b).dot].map((dot) => ({...dot, kind: 'value'})).sort((x, y) => (x.node < y.node ? -1 : 1)))
    for (const name of ['n1', 'n2', 'n3']) expect(await conflictsOn(cluster, name)).toEqual([{key: 'cart', siblings: 2, dots}])

    const read = expectOk(await cluster.node('n3').handle('kv.get', {key, r: 3}))
    expectOk(await cluster.node('n3').handle('kv.put', {key, value: bytes('a+b'), context: read.context}))
    await cluster.idle()
    for (const name of ['n1', 'n2', 'n3']) expect(await conflictsOn(cluster, name)).toEqual([])
    expect(cluster.errors).toEqual([])
  })

  it('lists a delete concurrent with a put (its tombstone marked), not two concurrent deletes; a restart rebuilds the index', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    for (const name of ['raced', 'gone']) expectOk(await cluster.node('n1').handle('kv.put', {key: bytes(name), value: bytes('v'), w: 3}))
    const context = async (name: string) => expectOk(await cluster.node('n1').handle('kv.get', {key: bytes(name), r: 3})).context
    const raced = await context('raced')
    const gone = await context('gone')
    await Promise.all([
      cluster.node('n1').handle('kv.put', {key: bytes('raced'), value: bytes('w'), context: raced}),
      cluster.node('n2').handle('kv.delete', {key: bytes('raced'), context: raced}),
      cluster.node('n1').handle('kv.delete', {key: bytes('gone'), context: gone}),
      cluster.node('n2').handle('kv.delete', {key: bytes('gone'), context: gone}),
    ])
    await cluster.idle()
    const listed = await conflictsOn(cluster, 'n3')
    expect(listed.map((entry) => [entry.key, entry.siblings])).toEqual([['raced', 2]])
    expect(listed[0]!.dots).toMatch(/^n1:\d+:value,n2:\d+:tombstone$/)

    const restarted = cluster.restart('n3')
    await restarted.start()
    expect(await conflictsOn(cluster, 'n3')).toEqual(listed)
  })

  it('pages in key byte order with the after cursor', async () => {
    const cluster = new TestCluster({names: ['n1', 'n2', 'n3']})
    const names = ['k3', 'k1', 'k2', 'k10']
    for (const name of names) {
      await Promise.all(['n1', 'n2'].map((via) => cluster.node(via).handle('kv.put', {key: bytes(name), value: bytes(via), w: 3})))
    }
    await cluster.idle()
    const first = expectOk(await cluster.node('n2').handle('kv.conflicts', {limit: 3}))
    expect(first.keys.map((entry) => text(entry.key))).toEqual(['k1', 'k10', 'k2'])
    expect(first.more).toBe(true)
    const second = expectOk(await cluster.node('n2').handle('kv.conflicts', {limit: 3, after: first.keys.at(-1)!.key}))
    expect(second.keys.map((entry) => text(entry.key))).toEqual(['k3'])
    expect(second.more).toBe(false)
  })
})
