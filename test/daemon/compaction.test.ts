// A running node compacts on its own (daemon/compactor.ts): overwritten values leave the
// disk, and every key still reads its newest value.
import {readdir, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterEach, describe, expect, it} from 'vitest'
import type {GetResponse, PutResponse} from '../../src/core/protocol.js'
import {bytes, text, Tracker} from './helpers.js'

const tracker = new Tracker()
afterEach(async () => {
  await tracker.cleanup()
})

async function metric(httpAddress: string, name: string): Promise<number> {
  const body = await (await fetch(`http://${httpAddress}/metrics`)).text()
  const line = body.split('\n').find((each) => each.startsWith(`${name} `))
  if (line === undefined) throw new Error(`no ${name} in /metrics`)
  return Number(line.split(' ')[1])
}

/** Bytes of the segment files in the data directory (one compaction may delete while this
 * lists). */
async function segmentBytes(dataDir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dataDir, {recursive: true})) {
    if (entry.endsWith('.data')) total += (await stat(join(dataDir, entry)).catch(() => ({size: 0}))).size
  }
  return total
}

describe('compaction in a running node', () => {
  it('merges segments full of overwritten values, and every key reads its newest value', async () => {
    const [spec] = await tracker.clusterSpecs(1)
    const config = tracker.configOf(spec!, [spec!], {segmentBytesMax: 4096, partitions: 8, n: 1, r: 1, w: 1})
    const first = await tracker.start(config)
    const client = await tracker.client(first.addresses.wire)
    const keys = ['a', 'b', 'c', 'd']
    const rounds = 60
    const contexts = new Map<string, string>()
    for (let round = 0; round < rounds; round++) {
      for (const key of keys) {
        // Each put carries the context of the one before: it replaces the value.
        const context = contexts.get(key)
        const put = (await client.request('kv.put', {key: bytes(key), value: bytes(`${key}-${round}-${'x'.repeat(100)}`), ...(context === undefined ? {} : {context})})) as PutResponse
        if (!put.ok) throw new Error(put.error.message)
        contexts.set(key, put.context)
      }
    }
    client.destroy('done')
    await first.close()
    const bytesBefore = await segmentBytes(spec!.dataDir)

    // At start the node finds closed segments that are nearly all dead and compacts them at
    // its first check.
    const second = await tracker.start(config)
    // Four live values are left of 240 writes: most of the disk is freed, one partition
    // after the other.
    const deadline = performance.now() + 20_000
    while ((await segmentBytes(spec!.dataDir)) >= bytesBefore / 2) {
      if (performance.now() > deadline) throw new Error(`segments still hold ${await segmentBytes(spec!.dataDir)} of ${bytesBefore} bytes after 20 s`)
      await sleep(100)
    }
    expect(await metric(second.addresses.http, 'dyn_store_compactions_total')).toBeGreaterThan(0)
    expect(await metric(second.addresses.http, 'dyn_store_compaction_reclaimed_bytes_total')).toBeGreaterThan(bytesBefore / 4)
    expect(await metric(second.addresses.http, 'dyn_store_compaction_failures_total')).toBe(0)

    const reader = await tracker.client(second.addresses.wire)
    for (const key of keys) {
      const got = (await reader.request('kv.get', {key: bytes(key)})) as GetResponse
      if (!got.ok) throw new Error(got.error.message)
      expect(got.siblings.map((sibling) => text(sibling.value).split('-').slice(0, 2).join('-'))).toEqual([`${key}-${rounds - 1}`])
    }
  })
})
