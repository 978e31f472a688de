// A node's index of its copies (objects.ts) rebuilt at start from the log store's hint
// descriptions must equal the index it kept while writing, and the index built by reading
// and decoding every value (a store without descriptions): same Merkle trees, digests,
// tombstone candidates and conflicts, after any mix of writes, concurrent writes, deletes
// and removals. It reads no value at start but those of conflicted keys.
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {applyPut, emptyVersionVector, type StoredObject} from '../../src/core/causality.js'
import {LogObjectStore} from '../../src/daemon/object-store.js'
import {LocalObjects} from '../../src/node/objects.js'
import type {ObjectStore} from '../../src/node/ports.js'
import {MapStore} from './harness.js'

type Op =
  | {kind: 'put'; partition: number; key: number; blind: boolean; size: number}
  | {kind: 'delete'; partition: number; key: number; blind: boolean}
  | {kind: 'remove'; partition: number; key: number}

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {weight: 6, arbitrary: fc.record({kind: fc.constant('put' as const), partition: fc.nat(2), key: fc.nat(11), blind: fc.boolean(), size: fc.nat(40)})},
  {weight: 3, arbitrary: fc.record({kind: fc.constant('delete' as const), partition: fc.nat(2), key: fc.nat(11), blind: fc.boolean()})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('remove' as const), partition: fc.nat(2), key: fc.nat(11)})},
)

const partitions = [0, 1, 2]
const segments = 16
const everySegment = Array.from({length: segments}, (_, segment) => segment)
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** Everything the index answers, in a comparable form. */
function snapshot(objects: LocalObjects): unknown {
  return partitions.map((partition) => ({
    root: hex(objects.tree(partition).root()),
    keys: objects
      .keysIn(partition, everySegment)
      .map(([key, digest]) => `${hex(key)}=${hex(digest)}`)
      .sort(),
    tombstones: objects
      .tombstonesHeldSince(partition, Number.POSITIVE_INFINITY)
      .map((entry) => `${hex(entry.key)}=${hex(entry.digest)}@${entry.sinceMs}`)
      .sort(),
    keyCount: objects.keyCount(partition),
    conflicts: objects.conflicts({limit: 1000}).keys.map((entry) => ({...entry, key: hex(entry.key)})),
  }))
}

async function apply(objects: LocalObjects, op: Op, counters: Map<string, number>): Promise<void> {
  const key = Buffer.from(`key-${op.key}`)
  if (op.kind === 'remove') {
    await objects.exclusive(op.partition, key, async (current, remove) => {
      if (current !== undefined) await remove()
    })
    return
  }
  // Blind writes carry no context: beside a live copy they become concurrent siblings.
  const coordinator = op.blind ? 'n2' : 'n1'
  await objects.update(op.partition, key, (current: StoredObject | undefined) => {
    const counter = (counters.get(coordinator) ?? 0) + 1
    counters.set(coordinator, counter)
    const context = op.blind || current === undefined ? emptyVersionVector : current.vv
    const write = op.kind === 'put' ? {kind: 'value' as const, value: new Uint8Array(op.size).fill(op.key)} : {kind: 'tombstone' as const}
    return applyPut(current, {coordinator, context, write, counter}).object
  })
}

/** Counts value reads. */
function counted(store: ObjectStore): {store: ObjectStore; gets: () => number} {
  let gets = 0
  const wrapped: ObjectStore = {
    get: (partition, key) => {
      gets++
      return store.get(partition, key)
    },
    put: (partition, key, value) => store.put(partition, key, value),
    delete: (partition, key) => store.delete(partition, key),
    entries: (partition) => store.entries(partition),
    partitions: () => store.partitions(),
    drop: (partition) => store.drop(partition),
    ...(store.keys === undefined ? {} : {keys: (partition: number) => store.keys!(partition)}),
    ...(store.described === undefined ? {} : {described: (partition: number) => store.described!(partition)}),
  }
  return {store: wrapped, gets: () => gets}
}

describe('loading the index of local copies at start', () => {
  it('rebuilds from hint descriptions exactly the index kept while writing, and the one decoding every value gives', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, {minLength: 1, maxLength: 50}), async (ops) => {
        const dir = await mkdtemp(join(tmpdir(), 'dyn-objects-load-'))
        try {
          const clock = {nowMs: () => 7}
          let store = await LogObjectStore.open({dataDir: dir, sync: {kind: 'none'}})
          const writing = new LocalObjects(store, {segments, clock})
          const counters = new Map<string, number>()
          for (const op of ops) await apply(writing, op, counters)
          const expected = snapshot(writing)
          const copy = new MapStore()
          for (const partition of partitions) {
            for await (const {key, value} of store.entries(partition)) await copy.put(partition, key, value)
          }
          await store.close()

          store = await LogObjectStore.open({dataDir: dir, sync: {kind: 'none'}})
          await store.recoverAll()
          const reads = counted(store)
          const loaded = new LocalObjects(reads.store, {segments, clock})
          await loaded.load(await store.partitions())
          expect(snapshot(loaded)).toEqual(expected)
          expect(reads.gets()).toBe(loaded.conflicts({limit: 1000}).keys.length)

          const decoded = new LocalObjects(copy, {segments, clock})
          await decoded.load(await copy.partitions())
          expect(snapshot(decoded)).toEqual(expected)
          await store.close()
        } finally {
          await rm(dir, {recursive: true, force: true})
        }
      }),
      {numRuns: 40},
    )
  })
})
