// Model-based test of a partition against a Map: random sequences of puts (single and
// concurrent), deletes, compactions, clean reopens and simulated crashes (the store is
// dropped without closing, then garbage or a torn record is appended to the active
// segment, as a write that was never acknowledged would leave it). Tiny segments make
// roll-over and compaction happen all the time.
import {appendFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {LogStore, type Partition} from '../../src/store/index.js'
import {encodeRecord, flagValue} from '../../src/store/record.js'
import {withTempDir} from './helpers.js'

const keyCount = 6
const keyOf = (index: number): Buffer => Buffer.from(`key-${index}`)

type Op =
  | {kind: 'put'; key: number; value: Uint8Array}
  | {kind: 'putMany'; writes: {key: number; value: Uint8Array}[]}
  | {kind: 'delete'; key: number}
  | {kind: 'compact'}
  | {kind: 'reopen'}
  | {kind: 'crash'; tail: 'none' | 'garbage' | 'torn'; garbage: Uint8Array}

const valueArb = fc.uint8Array({minLength: 0, maxLength: 48})
const keyArb = fc.integer({min: 0, max: keyCount - 1})
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {weight: 6, arbitrary: fc.record({kind: fc.constant('put' as const), key: keyArb, value: valueArb})},
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('putMany' as const),
      writes: fc.array(fc.record({key: keyArb, value: valueArb}), {minLength: 2, maxLength: 8}),
    }),
  },
  {weight: 3, arbitrary: fc.record({kind: fc.constant('delete' as const), key: keyArb})},
  {weight: 2, arbitrary: fc.constant({kind: 'compact' as const})},
  {weight: 1, arbitrary: fc.constant({kind: 'reopen' as const})},
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('crash' as const),
      tail: fc.constantFrom('none' as const, 'garbage' as const, 'torn' as const),
      garbage: fc.uint8Array({minLength: 1, maxLength: 40}),
    }),
  },
)

async function appendToActiveSegment(partitionDir: string, bytes: Uint8Array): Promise<void> {
  const segments = (await readdir(partitionDir)).filter((name) => name.endsWith('.data')).sort()
  const last = segments[segments.length - 1]
  if (last !== undefined) await appendFile(join(partitionDir, last), bytes)
}

async function expectMatches(partition: Partition, model: Map<number, Buffer>): Promise<void> {
  for (let key = 0; key < keyCount; key++) {
    const got = await partition.get(keyOf(key))
    expect(got === undefined ? undefined : Buffer.from(got).toString('hex')).toEqual(model.get(key)?.toString('hex'))
  }
  const scanned = new Map<string, string>()
  for await (const entry of partition.entries()) scanned.set(entry.key.toString(), entry.value.toString('hex'))
  expect(scanned).toEqual(new Map([...model].map(([key, value]) => [keyOf(key).toString(), value.toString('hex')])))
  const stats = partition.stats()
  expect(stats.keys).toBe(model.size)
  expect(stats.corruptRecordsSkipped).toBe(0)
  expect(stats.liveBytes).toBeGreaterThanOrEqual(0)
  expect(stats.deadBytes).toBeGreaterThanOrEqual(0)
}

interface Setup {
  sync: string
  segmentBytesMax: number
  compactionDeadRatioMin: number
  readMode: 'blocking' | 'threadpool'
}

const setupArb = (sync: string): fc.Arbitrary<Setup> =>
  fc.record({
    sync: fc.constant(sync),
    segmentBytesMax: fc.constantFrom(96, 160, 400),
    compactionDeadRatioMin: fc.constantFrom(0.2, 0.5, 0.9),
    readMode: fc.constantFrom('blocking' as const, 'threadpool' as const),
  })

async function runOps(dir: string, ops: Op[], setup: Setup): Promise<void> {
  const open = async (): Promise<[LogStore, Partition]> => {
    const store = await LogStore.open({dir, ...setup})
    return [store, await store.openPartition(0)]
  }
  const model = new Map<number, Buffer>()
  let [store, partition] = await open()
  try {
    for (const op of ops) {
      switch (op.kind) {
        case 'put':
          await partition.put(keyOf(op.key), op.value)
          model.set(op.key, Buffer.from(op.value))
          break
        case 'putMany':
          await Promise.all(op.writes.map((write) => partition.put(keyOf(write.key), write.value)))
          for (const write of op.writes) model.set(write.key, Buffer.from(write.value))
          break
        case 'delete':
          await partition.delete(keyOf(op.key))
          model.delete(op.key)
          break
        case 'compact':
          await partition.compact()
          break
        case 'reopen':
          await store.close()
          ;[store, partition] = await open()
          break
        case 'crash': {
          await store.crash()
          if (op.tail === 'garbage') await appendToActiveSegment(partition.dir, op.garbage)
          if (op.tail === 'torn') {
            const record = encodeRecord(flagValue, keyOf(0), op.garbage)
            await appendToActiveSegment(partition.dir, record.subarray(0, record.length - 1))
          }
          ;[store, partition] = await open()
          break
        }
        default:
          throw new Error(`unknown op ${JSON.stringify(op)}`)
      }
      await expectMatches(partition, model)
    }
    await store.close()
    ;[store, partition] = await open()
    await expectMatches(partition, model)
  } finally {
    await store.close()
  }
}

describe('partition against a Map model', () => {
  it('agrees after every operation, across roll-over, compaction, reopen and crash (sync none)', async () => {
    await fc.assert(
      fc.asyncProperty(setupArb('none'), fc.array(opArb, {minLength: 1, maxLength: 50}), (setup, ops) =>
        withTempDir((dir) => runOps(dir, ops, setup)),
      ),
      {numRuns: 100},
    )
  })

  it('agrees with group commit (sync always)', async () => {
    await fc.assert(
      fc.asyncProperty(setupArb('always'), fc.array(opArb, {minLength: 1, maxLength: 25}), (setup, ops) =>
        withTempDir((dir) => runOps(dir, ops, setup)),
      ),
      {numRuns: 15},
    )
  })
})
