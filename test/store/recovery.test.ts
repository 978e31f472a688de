// Recovery on real files: a torn tail is cut, a corrupt record in the middle of a closed
// segment is skipped, counted and never served, and a bad or missing hint file falls
// back to scanning the data file.
import {appendFile, readdir, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {CorruptRecordError, LogStore, type StoreEvent} from '../../src/store/index.js'
import {encodeRecord, flagValue} from '../../src/store/record.js'
import {bytes, withTempDir} from './helpers.js'

const keyOf = (i: number): Buffer => bytes(`k${String(i).padStart(2, '0')}`)
const valueOf = (i: number): Buffer => Buffer.alloc(50, i + 1)
/** 11 header + 3 key + 50 value. */
const recordBytes = 64
/** Sixteen records per segment: the segment rolls once it reaches 1000 bytes. */
const segmentBytesMax = 1000

async function writeRecords(dir: string, count: number): Promise<void> {
  const store = await LogStore.open({dir, segmentBytesMax, sync: 'none'})
  const partition = await store.openPartition(0)
  for (let i = 0; i < count; i++) await partition.put(keyOf(i), valueOf(i))
  await store.close()
}

async function flipByte(path: string, offset: number): Promise<void> {
  const content = await readFile(path)
  content[offset] = (content[offset] ?? 0) ^ 0x5a
  await writeFile(path, content)
}

const firstSegment = (dir: string): string => join(dir, 'p-0', '000000000001.data')
const firstHint = (dir: string): string => join(dir, 'p-0', '000000000001.hint')

describe('recovery', () => {
  it('cuts a torn tail left by a crash and keeps everything before it', async () => {
    await withTempDir(async (dir) => {
      const store = await LogStore.open({dir})
      const partition = await store.openPartition(0)
      for (let i = 0; i < 5; i++) await partition.put(keyOf(i), valueOf(i))
      await store.crash()
      const path = join(dir, 'p-0', '000000000001.data')
      const sizeBefore = (await stat(path)).size
      const torn = encodeRecord(flagValue, keyOf(9), valueOf(9)).subarray(0, 40)
      await appendFile(path, torn)
      const events: StoreEvent[] = []
      const reopened = await LogStore.open({dir, logger: (event) => events.push(event)})
      const again = await reopened.openPartition(0)
      expect(again.stats()).toMatchObject({keys: 5, tornTailBytesTruncated: 40, corruptRecordsSkipped: 0})
      expect(events).toContainEqual({kind: 'tornTail', path, offset: sizeBefore, bytesTruncated: 40})
      expect((await stat(path)).size).toBe(sizeBefore)
      for (let i = 0; i < 5; i++) expect(await again.get(keyOf(i))).toEqual(valueOf(i))
      expect(await again.get(keyOf(9))).toBeUndefined()
      await reopened.close()
    })
  })

  for (const [what, byteInRecord] of [
    ['its value', 30],
    ['its length field', 8],
  ] as const) {
    it(`skips and counts a record with a flipped byte in ${what} in the middle of a closed segment`, async () => {
      await withTempDir(async (dir) => {
        await writeRecords(dir, 40)
        await flipByte(firstSegment(dir), 7 * recordBytes + byteInRecord)
        await rm(firstHint(dir))
        const events: StoreEvent[] = []
        const store = await LogStore.open({dir, segmentBytesMax, logger: (event) => events.push(event)})
        const partition = await store.openPartition(0)
        expect(await partition.get(keyOf(7))).toBeUndefined()
        for (let i = 0; i < 40; i++) if (i !== 7) expect(await partition.get(keyOf(i))).toEqual(valueOf(i))
        expect(partition.stats()).toMatchObject({keys: 39, corruptRecordsSkipped: 1, tornTailBytesTruncated: 0})
        expect(events).toContainEqual({kind: 'corruptRecord', path: firstSegment(dir), offset: 7 * recordBytes, bytesSkipped: recordBytes})
        await store.close()
      })
    })
  }

  for (const readMode of ['blocking', 'threadpool'] as const) it(`refuses to serve a record that fails its checksum when read back (${readMode} reads)`, async () => {
    await withTempDir(async (dir) => {
      await writeRecords(dir, 40)
      await flipByte(firstSegment(dir), 7 * recordBytes + 30)
      const store = await LogStore.open({dir, segmentBytesMax, readMode})
      const partition = await store.openPartition(0)
      await expect(partition.get(keyOf(7))).rejects.toBeInstanceOf(CorruptRecordError)
      const scanned: string[] = []
      for await (const entry of partition.entries()) scanned.push(entry.key.toString())
      expect(scanned).toHaveLength(39)
      expect(scanned).not.toContain(keyOf(7).toString())
      expect(partition.stats().corruptReads).toBe(2)
      expect(await partition.get(keyOf(8))).toEqual(valueOf(8))
      await store.close()
    })
  })

  it('falls back to scanning when a hint file is corrupt, then rewrites it', async () => {
    await withTempDir(async (dir) => {
      await writeRecords(dir, 40)
      await flipByte(firstHint(dir), 20)
      const events: StoreEvent[] = []
      let store = await LogStore.open({dir, segmentBytesMax, logger: (event) => events.push(event)})
      let partition = await store.openPartition(0)
      expect(partition.stats()).toMatchObject({keys: 40, hintsRejected: 1, corruptRecordsSkipped: 0})
      expect(events).toContainEqual({kind: 'hintInvalid', path: firstHint(dir), reason: 'checksum mismatch'})
      for (let i = 0; i < 40; i++) expect(await partition.get(keyOf(i))).toEqual(valueOf(i))
      await store.close()
      store = await LogStore.open({dir, segmentBytesMax})
      partition = await store.openPartition(0)
      expect(partition.stats()).toMatchObject({keys: 40, hintsRejected: 0})
      await store.close()
    })
  })

  it('scans segments whose hint files are missing or truncated', async () => {
    await withTempDir(async (dir) => {
      await writeRecords(dir, 40)
      const names = (await readdir(join(dir, 'p-0'))).filter((name) => name.endsWith('.hint'))
      expect(names.length).toBeGreaterThanOrEqual(3)
      await rm(join(dir, 'p-0', names[0] ?? ''))
      await writeFile(join(dir, 'p-0', names[1] ?? ''), Buffer.alloc(5))
      const store = await LogStore.open({dir, segmentBytesMax})
      const partition = await store.openPartition(0)
      expect(partition.stats()).toMatchObject({keys: 40, hintsRejected: 1})
      for (let i = 0; i < 40; i++) expect(await partition.get(keyOf(i))).toEqual(valueOf(i))
      await store.close()
    })
  })
})
