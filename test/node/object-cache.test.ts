// The object cache (src/node/object-cache.ts) against a model store, with reads and writes
// interleaved as they are in a node (a read's store access and a write's persist each take
// time, and others run meanwhile), and LocalObjects reading through it.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {applyPut, contextOf, decodeObject, emptyVersionVector, encodeObject, type StoredObject} from '../../src/core/causality.js'
import {ObjectCache} from '../../src/node/object-cache.js'
import {LocalObjects} from '../../src/node/objects.js'
import {MapStore, bytes} from './harness.js'

const names = ['a', 'b', 'c', 'd']

type Step =
  | {kind: 'beginRead'; name: number}
  | {kind: 'endRead'; which: number}
  | {kind: 'beginWrite'; name: number; value: number}
  | {kind: 'endWrite'; which: number; fails: boolean}
  | {kind: 'get'; name: number}
  | {kind: 'remove'; name: number}
  | {kind: 'clear'}

const step: fc.Arbitrary<Step> = fc.oneof(
  {weight: 3, arbitrary: fc.record({kind: fc.constant('beginRead' as const), name: fc.nat(names.length - 1)})},
  {weight: 3, arbitrary: fc.record({kind: fc.constant('endRead' as const), which: fc.nat(7)})},
  {weight: 3, arbitrary: fc.record({kind: fc.constant('beginWrite' as const), name: fc.nat(names.length - 1), value: fc.nat(200)})},
  {weight: 3, arbitrary: fc.record({kind: fc.constant('endWrite' as const), which: fc.nat(7), fails: fc.boolean()})},
  {weight: 3, arbitrary: fc.record({kind: fc.constant('get' as const), name: fc.nat(names.length - 1)})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('remove' as const), name: fc.nat(names.length - 1)})},
  {weight: 1, arbitrary: fc.constant({kind: 'clear' as const})},
)

function objectOf(value: number): StoredObject {
  return applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: {kind: 'value', value: new Uint8Array(value).fill(value % 251)}, counter: 1}).object
}

describe('ObjectCache', () => {
  it('never answers with other bytes than the store holds, and keeps within its budget', () => {
    fc.assert(
      fc.property(fc.array(step, {minLength: 20, maxLength: 120}), fc.oneof(fc.constant(0), fc.integer({min: 2000, max: 60_000})), (steps, budget) => {
        const cache = new ObjectCache(budget)
        const store = new Map<string, Uint8Array>()
        // Reads in flight: each found what the store held when it began, and reports it
        // when it completes, after whatever ran in between (as a read's continuation does).
        const reads: Array<{name: string; epoch: number; found: Uint8Array | undefined}> = []
        // Writes of one key run one at a time in a node (the key's queue); this model keeps
        // that: a key with a write in flight takes no other.
        const writes: Array<{name: string; bytes: Uint8Array; object: StoredObject}> = []
        for (const s of steps) {
          switch (s.kind) {
            case 'beginRead':
              reads.push({name: names[s.name]!, epoch: cache.readStarted(), found: store.get(names[s.name]!)})
              break
            case 'endRead': {
              const read = reads.splice(s.which % Math.max(1, reads.length), 1)[0]
              if (read?.found !== undefined) cache.filled(read.name, read.epoch, read.found)
              break
            }
            case 'beginWrite': {
              const name = names[s.name]!
              if (writes.some((write) => write.name === name)) break
              const object = objectOf(s.value)
              cache.writeStarted()
              writes.push({name, bytes: encodeObject(object), object})
              break
            }
            case 'endWrite': {
              const write = writes.splice(s.which % Math.max(1, writes.length), 1)[0]
              if (write === undefined) break
              if (s.fails) cache.removed(write.name)
              else {
                store.set(write.name, write.bytes)
                cache.written(write.name, write.bytes, write.object)
              }
              break
            }
            case 'get': {
              const name = names[s.name]!
              const entry = cache.get(name)
              // A key whose write is in flight may answer either the old or the new copy:
              // the node reads it only from inside the key's queue, after that write.
              if (entry !== undefined && !writes.some((write) => write.name === name)) {
                expect(entry.bytes).toEqual(store.get(name))
                if (entry.object !== undefined) expect(encodeObject(entry.object)).toEqual(entry.bytes)
              }
              break
            }
            case 'remove': {
              const name = names[s.name]!
              if (writes.some((write) => write.name === name)) break
              cache.writeStarted()
              store.delete(name)
              cache.removed(name)
              break
            }
            case 'clear':
              store.clear()
              cache.clear()
              break
          }
          expect(cache.stats.bytes).toBeLessThanOrEqual(budget)
          expect(cache.stats.bytes).toBeGreaterThanOrEqual(0)
        }
      }),
      {numRuns: 400},
    )
  })

  it('lets the least recently used entry go first', () => {
    const object = objectOf(10)
    const encoded = encodeObject(object)
    const probe = new ObjectCache(1_000_000)
    probe.written('x0', encoded, object)
    const perEntry = probe.stats.bytes
    const cache = new ObjectCache(perEntry * 20 + 15) // names x10 and on are a byte longer
    for (let i = 0; i < 20; i++) cache.written(`x${i}`, encoded, object)
    expect(cache.get('x0')).toBeDefined() // now the most recently used
    cache.written('x20', encoded, object)
    expect(cache.get('x1')).toBeUndefined()
    for (const name of ['x0', 'x2', 'x19', 'x20']) expect(cache.get(name), name).toBeDefined()
    expect(cache.stats.entries).toBe(20)
  })

  it('does not keep an object larger than a sixteenth of its budget', () => {
    const object = objectOf(200)
    const cache = new ObjectCache(1000)
    cache.written('big', encodeObject(object), object)
    expect(cache.get('big')).toBeUndefined()
    expect(cache.stats.bytes).toBe(0)
  })
})

class CountingStore extends MapStore {
  gets = 0
  override async get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.gets++
    return super.get(partition, key)
  }
}

describe('LocalObjects with the object cache', () => {
  const key = bytes('k')
  const write = (value: string) => (current: StoredObject | undefined) =>
    applyPut(current, {coordinator: 'n1', context: current === undefined ? emptyVersionVector : contextOf(current), write: {kind: 'value', value: bytes(value)}, counter: (current?.vv[0]?.counter ?? 0) + 1}).object

  it('reads a copy it wrote from memory, and what the store holds once it was removed or dropped', async () => {
    const store = new CountingStore()
    const objects = new LocalObjects(store)
    await objects.update(1, key, write('one'))
    const before = store.gets
    const read = await objects.read(1, key)
    expect(read?.siblings.map((sibling) => (sibling.kind === 'value' ? Buffer.from(sibling.value).toString() : '-'))).toEqual(['one'])
    expect(decodeObject((await objects.readBytes(1, key))!)).toEqual(read)
    expect(store.gets).toBe(before)
    expect(objects.cacheStats().hits).toBeGreaterThanOrEqual(2)

    await objects.exclusive(1, key, async (_current, remove) => remove())
    expect(await objects.read(1, key)).toBeUndefined()
    expect(store.gets).toBeGreaterThan(before)

    await objects.update(2, key, write('two'))
    await objects.drop(2)
    expect(await objects.readBytes(2, key)).toBeUndefined()
  })

  it('does not keep the copy a read found while a write of the key was under way', async () => {
    const store = new MapStore()
    const objects = new LocalObjects(store)
    await objects.update(1, key, write('one'))
    const fresh = new LocalObjects(store) // an empty cache over the same store
    // The read takes the old bytes; the write completes before the read's continuation.
    const reading = fresh.readBytes(1, key)
    const writing = fresh.update(1, key, write('two'))
    await Promise.all([reading, writing])
    const now = decodeObject((await fresh.readBytes(1, key))!)
    expect(now.siblings.map((sibling) => (sibling.kind === 'value' ? Buffer.from(sibling.value).toString() : '-'))).toEqual(['two'])
  })

  it('keeps nothing with a budget of 0', async () => {
    const store = new CountingStore()
    const objects = new LocalObjects(store, {cacheBytes: 0})
    await objects.update(1, key, write('one'))
    const before = store.gets
    await objects.read(1, key)
    expect(store.gets).toBe(before + 1)
    expect(objects.cacheStats().entries).toBe(0)
  })
})
