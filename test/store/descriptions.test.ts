// Descriptions in hint files (hint.ts, RecordDescriber): after any mix of writes, deletes,
// roll-overs, compactions, reopens and crashes, `described()` yields every live key with
// exactly describe(key, its current value), whether the description came from a hint, from
// the scan that replaced a missing hint, or from reading a value written since the open;
// hints without descriptions, or with another describer's, are rebuilt.
import {createHash} from 'node:crypto'
import {readdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {LogStore, type Partition, type RecordDescriber, type StoreEvent} from '../../src/store/index.js'
import {hintFooterBytes} from '../../src/store/hint.js'
import {withTempDir} from './helpers.js'

/** Six bytes: the value's length and two bytes of MD5(key | value). */
function describer(id: number): RecordDescriber & {calls: number} {
  return {
    id,
    bytes: 6,
    calls: 0,
    describe(key, value) {
      this.calls++
      const out = Buffer.alloc(6)
      out.writeUInt32LE(value.length, 0)
      createHash('md5').update(key).update(value).digest().copy(out, 4, 0, 2)
      return out
    },
  }
}

const expectedDescription = (key: string, value: Buffer): string => Buffer.from(describer(1).describe(Buffer.from(key, 'latin1'), value)).toString('hex')

async function describedOf(partition: Partition): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  for await (const batch of partition.described()) {
    batch.keys.forEach((key, i) => {
      expect(found.has(key)).toBe(false)
      found.set(key, batch.descriptions.subarray(i * 6, (i + 1) * 6).toString('hex'))
    })
  }
  return found
}

type Step = {kind: 'put'; key: number; size: number} | {kind: 'delete'; key: number} | {kind: 'compact'} | {kind: 'reopen'} | {kind: 'crash'} | {kind: 'dropHints'}

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {weight: 8, arbitrary: fc.record({kind: fc.constant('put' as const), key: fc.nat(24), size: fc.nat(90)})},
  {weight: 2, arbitrary: fc.record({kind: fc.constant('delete' as const), key: fc.nat(24)})},
  {weight: 1, arbitrary: fc.constant({kind: 'compact' as const})},
  {weight: 1, arbitrary: fc.constant({kind: 'reopen' as const})},
  {weight: 1, arbitrary: fc.constant({kind: 'crash' as const})},
  {weight: 1, arbitrary: fc.constant({kind: 'dropHints' as const})},
)

describe('record descriptions in hint files', () => {
  it('describe every live key as describe(key, value) after any history of writes, compactions, reopens and crashes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary, {minLength: 1, maxLength: 60}), async (steps) => {
        await withTempDir(async (dir) => {
          const options = {dir, segmentBytesMax: 400, sync: 'always' as const, describer: describer(1), compactionDeadRatioMin: 0.2}
          let store = await LogStore.open(options)
          let partition = await store.openPartition(0)
          const model = new Map<string, Buffer>()
          for (const step of steps) {
            switch (step.kind) {
              case 'put': {
                const value = Buffer.alloc(step.size, step.key + step.size)
                await partition.put(Buffer.from(`k${step.key}`), value)
                model.set(`k${step.key}`, value)
                break
              }
              case 'delete':
                await partition.delete(Buffer.from(`k${step.key}`))
                model.delete(`k${step.key}`)
                break
              case 'compact':
                await partition.compact()
                break
              case 'reopen':
              case 'crash':
                await (step.kind === 'crash' ? store.crash() : store.close())
                store = await LogStore.open(options)
                partition = await store.openPartition(0)
                break
              case 'dropHints':
                // A hint that fails its checksum is as good as missing: the segment is scanned.
                for (const name of (await readdir(join(dir, 'p-0'))).filter((file) => file.endsWith('.hint'))) await writeFile(join(dir, 'p-0', name), Buffer.alloc(3))
                await store.close()
                store = await LogStore.open(options)
                partition = await store.openPartition(0)
                break
              default:
                throw new Error(`unknown step ${JSON.stringify(step satisfies never)}`)
            }
          }
          const expected = new Map([...model].map(([key, value]) => [key, expectedDescription(key, value)]))
          expect(await describedOf(partition)).toEqual(expected)
          // Each description loaded at open is handed out once: a second pass reads values.
          expect(await describedOf(partition)).toEqual(expected)
          await store.close()
        })
      }),
      {numRuns: 40},
    )
  })

  it('hands out descriptions loaded from hints without describing any value again', async () => {
    await withTempDir(async (dir) => {
      const writing = describer(1)
      let store = await LogStore.open({dir, segmentBytesMax: 500, describer: writing})
      let partition = await store.openPartition(0)
      for (let i = 0; i < 50; i++) await partition.put(Buffer.from(`k${i}`), Buffer.alloc(40, i))
      await store.close()
      const reading = describer(1)
      store = await LogStore.open({dir, segmentBytesMax: 500, describer: reading})
      partition = await store.openPartition(0)
      expect((await describedOf(partition)).size).toBe(50)
      expect(reading.calls).toBe(0)
      await store.close()
    })
  })

  it('rebuilds hints written by another describer, or without one, and says why', async () => {
    await withTempDir(async (dir) => {
      let store = await LogStore.open({dir, segmentBytesMax: 500})
      let partition = await store.openPartition(0)
      for (let i = 0; i < 30; i++) await partition.put(Buffer.from(`k${i}`), Buffer.alloc(40, i))
      await store.close()
      for (const id of [2, 3]) {
        const events: StoreEvent[] = []
        store = await LogStore.open({dir, segmentBytesMax: 500, describer: describer(id), logger: (event) => events.push(event)})
        partition = await store.openPartition(0)
        const rejected = partition.stats().hintsRejected
        expect(rejected).toBeGreaterThan(0)
        expect(events.filter((event) => event.kind === 'hintInvalid')).toHaveLength(rejected)
        expect(events).toContainEqual(expect.objectContaining({kind: 'hintInvalid', reason: 'holds no descriptions, or descriptions of another format'}))
        await store.close()
      }
      // The hints are now describer 3's: a store that wants no descriptions still uses them.
      store = await LogStore.open({dir, segmentBytesMax: 500})
      partition = await store.openPartition(0)
      expect(partition.stats()).toMatchObject({keys: 30, hintsRejected: 0})
      await store.close()
    })
  })

  it('rebuilds a hint of format 1 (no descriptions) from its data file', async () => {
    await withTempDir(async (dir) => {
      let store = await LogStore.open({dir, segmentBytesMax: 500})
      let partition = await store.openPartition(0)
      for (let i = 0; i < 10; i++) await partition.put(Buffer.from(`k${i}`), Buffer.alloc(40, i))
      await store.close()
      const hint = join(dir, 'p-0', (await readdir(join(dir, 'p-0'))).find((name) => name.endsWith('.hint'))!)
      // Format 1's footer: magic "DYNH", count, data size, crc (16 bytes).
      const bytes = await readFile(hint)
      const footer = Buffer.alloc(16)
      footer.writeUInt32LE(0x484e5944, 0)
      await writeFile(hint, Buffer.concat([bytes.subarray(0, bytes.length - hintFooterBytes), footer]))
      const events: StoreEvent[] = []
      store = await LogStore.open({dir, segmentBytesMax: 500, describer: describer(1), logger: (event) => events.push(event)})
      partition = await store.openPartition(0)
      expect(events).toContainEqual({kind: 'hintInvalid', path: hint, reason: 'written in hint format 1, without descriptions'})
      expect((await describedOf(partition)).size).toBe(10)
      await store.close()
    })
  })

  it('refuses a describer with an id or width out of range', async () => {
    await withTempDir(async (dir) => {
      await expect(LogStore.open({dir, describer: {...describer(1), id: 0}})).rejects.toThrow(/describer\.id/u)
      await expect(LogStore.open({dir, describer: {...describer(1), bytes: 256}})).rejects.toThrow(/describer\.bytes/u)
    })
  })
})
