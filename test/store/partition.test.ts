// Unit tests of a partition on real files: basic operations, limits, roll-over and hints,
// compaction (including the tombstone rule and a crash after the commit point), group
// commit and a full disk injected through the file-system port.
import {readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {keyBytesMax} from '../../src/core/limits.js'
import {DiskFullError, LogStore, StoreClosedError} from '../../src/store/index.js'
import {bytes, FaultyFiles, withTempDir} from './helpers.js'

describe('partition basics', () => {
  it('puts, gets, overwrites and deletes', async () => {
    await withTempDir(async (dir) => {
      const store = await LogStore.open({dir})
      const partition = await store.openPartition(7)
      expect(await partition.get(bytes('a'))).toBeUndefined()
      await partition.put(bytes('a'), bytes('1'))
      await partition.put(bytes('b'), new Uint8Array(0))
      await partition.put(bytes('a'), bytes('2'))
      expect(String(await partition.get(bytes('a')))).toBe('2')
      expect((await partition.get(bytes('b')))?.length).toBe(0)
      await partition.delete(bytes('a'))
      expect(await partition.get(bytes('a'))).toBeUndefined()
      expect(partition.stats()).toMatchObject({keys: 1, tombstones: 1, segments: 1})
      expect(await readdir(dir)).toContain('p-7')
      await store.close()
      await expect(partition.get(bytes('b'))).rejects.toBeInstanceOf(StoreClosedError)
    })
  })

  it('keeps partitions apart, lists them and drops one', async () => {
    await withTempDir(async (dir) => {
      const store = await LogStore.open({dir})
      const [p1, p2] = await Promise.all([store.openPartition(1), store.openPartition(2)])
      await p1.put(bytes('k'), bytes('one'))
      await p2.put(bytes('k'), bytes('two'))
      expect(String(await p1.get(bytes('k')))).toBe('one')
      expect(await store.partitionsOnDisk()).toEqual([1, 2])
      await store.dropPartition(1)
      expect(await store.partitionsOnDisk()).toEqual([2])
      const reopened = await store.openPartition(1)
      expect(await reopened.get(bytes('k'))).toBeUndefined()
      await expect(store.openPartition(-1)).rejects.toMatchObject({code: 'INVALID_STORE_OPTION'})
      await store.close()
    })
  })

  it('enforces the key and value limits with errors that say what to do', async () => {
    await withTempDir(async (dir) => {
      const store = await LogStore.open({dir, valueBytesMax: 100})
      const partition = await store.openPartition(0)
      await expect(partition.put(new Uint8Array(0), bytes('v'))).rejects.toMatchObject({code: 'KEY_EMPTY'})
      await expect(partition.put(Buffer.alloc(keyBytesMax + 1, 1), bytes('v'))).rejects.toMatchObject({code: 'KEY_TOO_LARGE'})
      await expect(partition.put(bytes('k'), Buffer.alloc(101))).rejects.toMatchObject({
        code: 'VALUE_TOO_LARGE',
        suggestion: expect.stringContaining('split the value'),
      })
      await partition.put(Buffer.alloc(keyBytesMax, 1), Buffer.alloc(100, 2))
      expect((await partition.get(Buffer.alloc(keyBytesMax, 1)))?.length).toBe(100)
      await store.close()
      await expect(LogStore.open({dir, valueBytesMax: 2 ** 30})).rejects.toThrow(/valueBytesMax.*allowed: an integer from 0 to/)
    })
  })

  it('rolls over small segments, writes hints, and reopens from them', async () => {
    await withTempDir(async (dir) => {
      let store = await LogStore.open({dir, segmentBytesMax: 256, sync: 'none'})
      let partition = await store.openPartition(0)
      for (let i = 0; i < 100; i++) await partition.put(bytes(`k${i % 20}`), bytes(`value-${i}`))
      expect(partition.stats().segments).toBeGreaterThan(5)
      await store.close()
      const names = await readdir(join(dir, 'p-0'))
      expect(names.filter((name) => name.endsWith('.hint')).length).toBe(names.filter((name) => name.endsWith('.data')).length)
      store = await LogStore.open({dir, segmentBytesMax: 256})
      partition = await store.openPartition(0)
      for (let i = 80; i < 100; i++) expect(String(await partition.get(bytes(`k${i % 20}`)))).toBe(`value-${i}`)
      expect(partition.stats()).toMatchObject({keys: 20, hintsRejected: 0, corruptRecordsSkipped: 0})
      await store.close()
    })
  })

  it('scans every live entry once', async () => {
    await withTempDir(async (dir) => {
      const store = await LogStore.open({dir, segmentBytesMax: 128})
      const partition = await store.openPartition(0)
      for (let i = 0; i < 30; i++) await partition.put(bytes(`k${i}`), bytes(`v${i}`))
      for (let i = 0; i < 30; i += 3) await partition.delete(bytes(`k${i}`))
      const seen: string[] = []
      for await (const entry of partition.entries()) seen.push(`${entry.key}=${entry.value}`)
      const expected = Array.from({length: 30}, (_, i) => i).filter((i) => i % 3 !== 0).map((i) => `k${i}=v${i}`)
      expect(seen.sort()).toEqual(expected.sort())
      await store.close()
    })
  })
})

describe('compaction', () => {
  it('reclaims dead bytes and keeps every live value across reopen', async () => {
    await withTempDir(async (dir) => {
      let store = await LogStore.open({dir, segmentBytesMax: 512, sync: 'none'})
      let partition = await store.openPartition(0)
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < 10; i++) await partition.put(bytes(`k${i}`), bytes(`r${round}-${i}`))
      }
      const before = partition.stats()
      const report = await partition.compact()
      const after = partition.stats()
      expect(report.segmentsIn).toBeGreaterThan(0)
      expect(after.deadBytes).toBeLessThan(before.deadBytes)
      expect(after.segments).toBeLessThan(before.segments)
      expect(after.liveBytes).toBe(before.liveBytes)
      await store.close()
      store = await LogStore.open({dir, segmentBytesMax: 512})
      partition = await store.openPartition(0)
      for (let i = 0; i < 10; i++) expect(String(await partition.get(bytes(`k${i}`)))).toBe(`r9-${i}`)
      expect(partition.stats().deadBytes).toBe(after.deadBytes)
      await store.close()
    })
  })

  it('keeps a tombstone while an unmerged older segment still holds a value of its key', async () => {
    await withTempDir(async (dir) => {
      const options = {dir, segmentBytesMax: 100, compactionDeadRatioMin: 0.9, sync: 'none'}
      let store = await LogStore.open(options)
      let partition = await store.openPartition(0)
      // Segment 1: the value of `victim` plus live filler, so it stays under the threshold.
      await partition.put(bytes('victim'), bytes('old'))
      await partition.put(bytes('filler-1'), Buffer.alloc(60, 1))
      // Segment 2: the tombstone of `victim` and records that all die, so it is selected.
      await partition.delete(bytes('victim'))
      await partition.put(bytes('short'), Buffer.alloc(70, 2))
      await partition.delete(bytes('short'))
      await partition.put(bytes('filler-2'), Buffer.alloc(60, 3))
      const report = await partition.compact()
      expect(report.segmentsIn).toBeGreaterThan(0)
      expect(await partition.get(bytes('victim'))).toBeUndefined()
      await store.close()
      store = await LogStore.open(options)
      partition = await store.openPartition(0)
      expect(await partition.get(bytes('victim'))).toBeUndefined()
      expect(await partition.get(bytes('short'))).toBeUndefined()
      expect((await partition.get(bytes('filler-1')))?.length).toBe(60)
      await store.close()
    })
  })

  it('finishes a swap interrupted after its commit point, and forgets one interrupted before it', async () => {
    await withTempDir(async (dir) => {
      const files = new FaultyFiles()
      let store = await LogStore.open({dir, files, segmentBytesMax: 200, sync: 'none', compactionDeadRatioMin: 0.2})
      let partition = await store.openPartition(0)
      for (let i = 0; i < 60; i++) {
        await partition.put(bytes(`k${i % 6}`), bytes(`v${i}`))
        if (i % 3 === 0) await partition.put(bytes(`fill${i / 3}`), bytes(`f${i / 3}`))
      }
      files.failRenamesEndingWith = '.data.tmp'
      await expect(partition.compact()).rejects.toMatchObject({code: 'COMPACTION_INCOMPLETE', message: expect.stringContaining('EIO')})
      files.failRenamesEndingWith = undefined
      await expect(partition.compact()).rejects.toMatchObject({code: 'COMPACTION_INCOMPLETE'})
      expect(String(await partition.get(bytes('k5')))).toBe('v59')
      await store.crash()
      expect(await readdir(join(dir, 'p-0'))).toContain('compaction.commit')
      // A leftover of a compaction that never reached its commit point.
      await writeFile(join(dir, 'p-0', '000000000099.data.tmp'), 'partial')
      store = await LogStore.open({dir, segmentBytesMax: 200})
      partition = await store.openPartition(0)
      const names = await readdir(join(dir, 'p-0'))
      expect(names.filter((name) => name.endsWith('.tmp') || name === 'compaction.commit')).toEqual([])
      for (let i = 54; i < 60; i++) expect(String(await partition.get(bytes(`k${i % 6}`)))).toBe(`v${i}`)
      for (let i = 0; i < 20; i++) expect(String(await partition.get(bytes(`fill${i}`)))).toBe(`f${i}`)
      expect(partition.stats()).toMatchObject({keys: 26, corruptRecordsSkipped: 0})
      await store.close()
    })
  })

  it('fails a compaction whose commit file finds the disk full before its commit point: DISK_FULL, no file left, and it runs again once there is space', async () => {
    await withTempDir(async (dir) => {
      const files = new FaultyFiles()
      const store = await LogStore.open({dir, files, segmentBytesMax: 200, sync: 'none', compactionDeadRatioMin: 0.2})
      const partition = await store.openPartition(0)
      for (let i = 0; i < 60; i++) await partition.put(bytes(`k${i % 6}`), bytes(`v${i}`))
      const dataFiles = async (): Promise<string[]> => (await readdir(join(dir, 'p-0'))).filter((name) => name.endsWith('.data')).sort()
      const before = await dataFiles()
      files.failWritesWith = 'ENOSPC'
      files.partialBytes = 5
      files.failOnlyPathsEndingWith = 'compaction.commit.tmp'
      await expect(partition.compact()).rejects.toMatchObject({code: 'DISK_FULL'})
      expect(await dataFiles()).toEqual(before)
      expect((await readdir(join(dir, 'p-0'))).filter((name) => name.endsWith('.tmp') || name === 'compaction.commit')).toEqual([])
      files.failWritesWith = undefined
      expect((await partition.compact()).segmentsIn).toBeGreaterThan(0)
      for (let i = 54; i < 60; i++) expect(String(await partition.get(bytes(`k${i % 6}`)))).toBe(`v${i}`)
      await store.close()
    })
  })
})

describe('group commit and write failures', () => {
  it('shares one data sync among many concurrent durable puts', async () => {
    await withTempDir(async (dir) => {
      const files = new FaultyFiles()
      const store = await LogStore.open({dir, files})
      const partition = await store.openPartition(0)
      const syncsBefore = files.datasyncs
      await Promise.all(Array.from({length: 64}, (_, i) => partition.put(bytes(`k${i}`), Buffer.alloc(1024, i))))
      const syncs = files.datasyncs - syncsBefore
      expect(syncs).toBeGreaterThanOrEqual(1)
      expect(syncs).toBeLessThanOrEqual(4)
      expect(partition.stats().batchesWritten).toBe(syncs)
      for (let i = 0; i < 64; i++) expect((await partition.get(bytes(`k${i}`)))?.[0]).toBe(i)
      await store.close()
    })
  })

  it('fails puts on a full disk with DISK_FULL, keeps serving reads, and recovers when space returns', async () => {
    for (const partialBytes of [0, 7]) {
      await withTempDir(async (dir) => {
        const files = new FaultyFiles()
        let store = await LogStore.open({dir, files})
        let partition = await store.openPartition(0)
        await partition.put(bytes('before'), bytes('kept'))
        files.failWritesWith = 'ENOSPC'
        files.partialBytes = partialBytes
        const failures = await Promise.allSettled([partition.put(bytes('lost'), bytes('x')), partition.put(bytes('lost2'), bytes('y'))])
        for (const failure of failures) {
          expect(failure.status).toBe('rejected')
          if (failure.status === 'rejected') {
            expect(failure.reason).toBeInstanceOf(DiskFullError)
            expect(failure.reason).toMatchObject({code: 'DISK_FULL', suggestion: expect.stringContaining('free space')})
          }
        }
        expect(String(await partition.get(bytes('before')))).toBe('kept')
        expect(await partition.get(bytes('lost'))).toBeUndefined()
        files.failWritesWith = undefined
        await partition.put(bytes('after'), bytes('works'))
        await store.close()
        store = await LogStore.open({dir})
        partition = await store.openPartition(0)
        expect(String(await partition.get(bytes('before')))).toBe('kept')
        expect(String(await partition.get(bytes('after')))).toBe('works')
        expect(await partition.get(bytes('lost'))).toBeUndefined()
        expect(partition.stats()).toMatchObject({keys: 2, corruptRecordsSkipped: 0, tornTailBytesTruncated: 0})
        await store.close()
      })
    }
  })

  it('opens a partition whose segment must be scanned although its hint cannot be written (a full disk)', async () => {
    await withTempDir(async (dir) => {
      let store = await LogStore.open({dir, sync: 'none'})
      let partition = await store.openPartition(0)
      await partition.put(bytes('kept'), bytes('value'))
      await store.crash()
      const files = new FaultyFiles()
      files.failWritesWith = 'ENOSPC'
      files.failOnlyPathsEndingWith = '.hint.tmp'
      store = await LogStore.open({dir, files, sync: 'none'})
      partition = await store.openPartition(0)
      expect(String(await partition.get(bytes('kept')))).toBe('value')
      expect((await readdir(join(dir, 'p-0'))).filter((name) => name.includes('.hint'))).toEqual([])
      await store.crash()
    })
  })

  it('reports other write errors as STORE_WRITE_FAILED', async () => {
    await withTempDir(async (dir) => {
      const files = new FaultyFiles()
      const store = await LogStore.open({dir, files})
      const partition = await store.openPartition(0)
      files.failWritesWith = 'EIO'
      await expect(partition.put(bytes('k'), bytes('v'))).rejects.toMatchObject({code: 'STORE_WRITE_FAILED'})
      files.failWritesWith = undefined
      await partition.put(bytes('k'), bytes('v'))
      expect(String(await partition.get(bytes('k')))).toBe('v')
      await store.close()
    })
  })

  it('acknowledges writes in interval and none modes and keeps them across a clean close', async () => {
    for (const sync of ['interval:5', 'none']) {
      await withTempDir(async (dir) => {
        const files = new FaultyFiles()
        let store = await LogStore.open({dir, sync, files})
        let partition = await store.openPartition(0)
        const syncsBefore = files.datasyncs
        await Promise.all(Array.from({length: 20}, (_, i) => partition.put(bytes(`k${i}`), bytes(`v${i}`))))
        await partition.put(bytes('k0'), bytes('again'))
        expect(files.datasyncs - syncsBefore).toBeLessThan(21)
        await store.close()
        store = await LogStore.open({dir})
        partition = await store.openPartition(0)
        expect(String(await partition.get(bytes('k0')))).toBe('again')
        expect(partition.stats().keys).toBe(20)
        await store.close()
      })
    }
  })
})
