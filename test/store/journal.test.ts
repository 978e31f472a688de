// The node journal (src/store/journal.ts): in sync `always` mode every partition's batches
// are made durable by one shared journal, and a crash that loses every unsynced write
// (VolatileFiles) must lose no acknowledged put, across roll-over, compaction, partition
// drops and reopens. Checked against a model of what was acknowledged.
import {readdir} from 'node:fs/promises'
import {join} from 'node:path'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {LogStore} from '../../src/store/index.js'
import {journalDirName, journalEntries} from '../../src/store/journal.js'
import {bytes, FaultyFiles, VolatileFiles, withTempDir} from './helpers.js'

const partitionCount = 3
const keyCount = 5
const keyOf = (index: number): Buffer => Buffer.from(`key-${index}`)

type Op =
  | {kind: 'put'; partition: number; key: number; value: Uint8Array}
  | {kind: 'putMany'; writes: {partition: number; key: number; value: Uint8Array}[]}
  | {kind: 'delete'; partition: number; key: number}
  | {kind: 'compact'; partition: number}
  | {kind: 'drop'; partition: number}
  | {kind: 'reopen'}
  | {kind: 'crash'}

const partitionArb = fc.integer({min: 0, max: partitionCount - 1})
const keyArb = fc.integer({min: 0, max: keyCount - 1})
const valueArb = fc.uint8Array({minLength: 0, maxLength: 40})
const writeArb = fc.record({partition: partitionArb, key: keyArb, value: valueArb})
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {weight: 5, arbitrary: writeArb.map((write) => ({kind: 'put' as const, ...write}))},
  {weight: 3, arbitrary: fc.array(writeArb, {minLength: 2, maxLength: 10}).map((writes) => ({kind: 'putMany' as const, writes}))},
  {weight: 2, arbitrary: fc.record({kind: fc.constant('delete' as const), partition: partitionArb, key: keyArb})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('compact' as const), partition: partitionArb})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('drop' as const), partition: partitionArb})},
  {weight: 1, arbitrary: fc.constant({kind: 'reopen' as const})},
  {weight: 3, arbitrary: fc.constant({kind: 'crash' as const})},
)

type Model = Map<number, Map<number, string>>

async function expectMatches(store: LogStore, model: Model): Promise<void> {
  for (let index = 0; index < partitionCount; index++) {
    const partition = await store.openPartition(index)
    for (let key = 0; key < keyCount; key++) {
      const got = await partition.get(keyOf(key))
      expect(got === undefined ? undefined : got.toString('hex'), `partition ${index} key ${key}`).toEqual(model.get(index)?.get(key))
    }
  }
}

async function runOps(dir: string, ops: Op[], segmentBytesMax: number): Promise<void> {
  const files = new VolatileFiles()
  const open = (): Promise<LogStore> => LogStore.open({dir, files, sync: 'always', segmentBytesMax, compactionDeadRatioMin: 0.3})
  const model: Model = new Map()
  const set = (partition: number, key: number, value: Uint8Array | undefined): void => {
    const keys = model.get(partition) ?? new Map<number, string>()
    model.set(partition, keys)
    if (value === undefined) keys.delete(key)
    else keys.set(key, Buffer.from(value).toString('hex'))
  }
  let store = await open()
  try {
    for (const op of ops) {
      switch (op.kind) {
        case 'put':
          await (await store.openPartition(op.partition)).put(keyOf(op.key), op.value)
          set(op.partition, op.key, op.value)
          break
        case 'putMany':
        {
          const partitions = await Promise.all(op.writes.map((write) => store.openPartition(write.partition)))
          await Promise.all(op.writes.map((write, i) => partitions[i]!.put(keyOf(write.key), write.value)))
        }
          // Concurrent puts of one key land in submission order within its partition.
          for (const write of op.writes) set(write.partition, write.key, write.value)
          break
        case 'delete':
          await (await store.openPartition(op.partition)).delete(keyOf(op.key))
          set(op.partition, op.key, undefined)
          break
        case 'compact':
          await (await store.openPartition(op.partition)).compact()
          break
        case 'drop':
          await store.dropPartition(op.partition)
          model.delete(op.partition)
          break
        case 'reopen':
          await store.close()
          store = await open()
          break
        case 'crash':
          await store.crash()
          files.loseUnsynced()
          store = await open()
          break
        default:
          throw new Error(`unknown op ${JSON.stringify(op)}`)
      }
      await expectMatches(store, model)
    }
  } finally {
    await store.close()
  }
}

describe('the journal (sync always)', () => {
  it('loses no acknowledged write in crashes that drop every unsynced byte, across partitions, roll-over, compaction and drops', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(120, 400, 64 * 1024), fc.array(opArb, {minLength: 1, maxLength: 30}), (segmentBytesMax, ops) =>
        withTempDir((dir) => runOps(dir, ops, segmentBytesMax)),
      ),
      {numRuns: 40},
    )
  })

  it('makes concurrent puts to many partitions durable with a few journal syncs and no segment sync', async () => {
    await withTempDir(async (dir) => {
      const files = new VolatileFiles()
      const store = await LogStore.open({dir, files, sync: 'always'})
      const partitions = await Promise.all(Array.from({length: 64}, (_, i) => store.openPartition(i)))
      const syncsBefore = new Map(files.datasyncs)
      await Promise.all(partitions.map((partition, i) => partition.put(bytes(`k${i}`), Buffer.alloc(1024, i))))
      const walSyncs = (files.datasyncs.get('.wal') ?? 0) - (syncsBefore.get('.wal') ?? 0)
      expect(walSyncs).toBeGreaterThanOrEqual(1)
      expect(walSyncs).toBeLessThanOrEqual(4)
      expect((files.datasyncs.get('.data') ?? 0) - (syncsBefore.get('.data') ?? 0)).toBe(0)
      expect(store.journalStats()).toMatchObject({records: 64, batches: 64})
      expect(store.journalStats()?.syncs).toBeLessThanOrEqual(walSyncs)
      // Without the journal's replay these would be gone: their segments were never synced.
      await store.crash()
      files.loseUnsynced()
      const reopened = await LogStore.open({dir, files, sync: 'always'})
      expect(reopened.journalStats()?.replayedEntries).toBe(64)
      for (let i = 0; i < 64; i++) expect((await (await reopened.openPartition(i)).get(bytes(`k${i}`)))?.[0]).toBe(i)
      await reopened.close()
      expect(await readdir(join(dir, journalDirName))).toEqual([])
    })
  })

  it('drops a partition while other partitions are written without pause', async () => {
    await withTempDir(async (dir) => {
      const files = new VolatileFiles()
      const store = await LogStore.open({dir, files, sync: 'always'})
      await (await store.openPartition(0)).put(bytes('gone'), bytes('x'))
      const busy = await Promise.all(Array.from({length: 16}, (_, i) => store.openPartition(i + 1)))
      let writing = true
      let written = 0
      // Many partitions, each with its own batch in flight: the journal's queue refills
      // while it syncs, so it is never idle.
      const writers = Array.from({length: 64}, async (_, w) => {
        while (writing) await busy[w % busy.length]!.put(bytes(`k${w}-${written++}`), bytes('v'))
      })
      // A checkpoint that waited for the journal to be idle would never return here.
      await store.dropPartition(0)
      writing = false
      await Promise.all(writers)
      expect(written).toBeGreaterThan(0)
      await store.crash()
      files.loseUnsynced()
      const reopened = await LogStore.open({dir, files, sync: 'always'})
      expect(await (await reopened.openPartition(0)).get(bytes('gone'))).toBeUndefined()
      let keys = 0
      for (let i = 1; i <= busy.length; i++) keys += (await reopened.openPartition(i)).stats().keys
      expect(keys).toBe(written)
      await reopened.close()
    })
  })

  it('refuses a batch whose journal write fails, never replays it, and goes on in a new journal file', async () => {
    await withTempDir(async (dir) => {
      const faults = new FaultyFiles()
      const files = new VolatileFiles(faults)
      let store = await LogStore.open({dir, files, sync: 'always'})
      const partition = await store.openPartition(0)
      await partition.put(bytes('before'), bytes('kept'))
      faults.failWritesWith = 'ENOSPC'
      faults.failOnlyPathsEndingWith = '.wal'
      faults.partialBytes = 30
      // VolatileFiles only writes through at a sync: the journal's datasync is what fails.
      const refused = await partition.put(bytes('refused'), bytes('x')).catch((error: unknown) => error)
      expect(refused, String(refused)).toMatchObject({code: 'DISK_FULL'})
      faults.failWritesWith = undefined
      await partition.put(bytes('after'), bytes('works'))
      expect(await partition.get(bytes('refused'))).toBeUndefined()
      await store.crash()
      files.loseUnsynced()
      const names = await readdir(join(dir, journalDirName))
      for (const name of names) {
        for (const entry of journalEntries(await files.readFile(join(dir, journalDirName, name)))) expect(entry.bytes.includes('refused')).toBe(false)
      }
      store = await LogStore.open({dir, files, sync: 'always'})
      const reopened = await store.openPartition(0)
      expect(String(await reopened.get(bytes('before')))).toBe('kept')
      expect(String(await reopened.get(bytes('after')))).toBe('works')
      expect(await reopened.get(bytes('refused'))).toBeUndefined()
      expect(reopened.stats().corruptRecordsSkipped).toBe(0)
      await store.close()
    })
  })
})
