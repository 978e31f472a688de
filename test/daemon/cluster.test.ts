// Three in-process daemons on real sockets and real stores, driven by a wire-protocol client.
import {connect as tcpConnect} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import type {GetResponse, PutResponse} from '../../src/core/protocol.js'
import type {Connection} from '../../src/net/index.js'
import {bytes, host, text, Tracker, within} from './helpers.js'

const tracker = new Tracker()
afterEach(async () => {
  await tracker.cleanup()
})

async function put(client: Connection, key: string, value: string, extra: Record<string, unknown> = {}): Promise<PutResponse> {
  return (await client.request('kv.put', {key: bytes(key), value: bytes(value), ...extra})) as PutResponse
}

async function get(client: Connection, key: string, extra: Record<string, unknown> = {}): Promise<GetResponse> {
  return (await client.request('kv.get', {key: bytes(key), ...extra})) as GetResponse
}

function okGet(response: GetResponse): Extract<GetResponse, {ok: true}> {
  if (!response.ok) throw new Error(`get failed: ${response.error.code} ${response.error.message}`)
  return response
}

function okPut(response: PutResponse): Extract<PutResponse, {ok: true}> {
  if (!response.ok) throw new Error(`put failed: ${response.error.code} ${response.error.message}`)
  return response
}

describe('a cluster of three daemons', () => {
  it('serves puts and gets through every node; a get asks R replicas, its coordinator first', async () => {
    const {daemons} = await tracker.startCluster(3)
    const clients = await Promise.all(daemons.map((daemon) => tracker.client(daemon.addresses.wire)))
    for (const [index, writer] of clients.entries()) {
      const written = okPut(await put(writer, `key-${index}`, `value-${index}`))
      expect(written.quorum.ok).toBe(true)
      expect(written.quorum.w).toBe(2)
      for (const reader of clients) {
        const read = okGet(await get(reader, `key-${index}`))
        expect(read.found).toBe(true)
        expect(read.siblings.map((sibling) => text(sibling.value))).toEqual([`value-${index}`])
        const answered = read.quorum.replies.map((reply) => reply.node)
        expect(answered).toContain(read.quorum.coordinator)
        expect(answered.length).toBeGreaterThanOrEqual(2)
        expect(read.quorum.ok).toBe(true)
      }
    }
  })

  it('with readFanout all, a get asks every replica at once', async () => {
    const {daemons} = await tracker.startCluster(3, {readFanout: 'all'})
    const clients = await Promise.all(daemons.map((daemon) => tracker.client(daemon.addresses.wire)))
    okPut(await put(clients[0]!, 'key', 'value'))
    for (const reader of clients) {
      const read = okGet(await get(reader, 'key'))
      const asked = new Set([...read.quorum.replies.map((reply) => reply.node), ...read.quorum.pending])
      expect([...asked].sort()).toEqual(['n1', 'n2', 'n3'])
    }
  })

  it('keeps two blind puts as siblings and resolves them with the context of a read', async () => {
    const {daemons} = await tracker.startCluster(3)
    const [a, b, c] = await Promise.all(daemons.map((daemon) => tracker.client(daemon.addresses.wire)))
    if (a === undefined || b === undefined || c === undefined) throw new Error('three clients expected')
    okPut(await put(a, 'cart', 'apple'))
    okPut(await put(b, 'cart', 'pear'))
    const both = okGet(await get(c, 'cart', {r: 3}))
    expect(both.siblings.map((sibling) => text(sibling.value)).sort()).toEqual(['apple', 'pear'])
    okPut(await put(c, 'cart', 'apple+pear', {context: both.context}))
    const merged = okGet(await get(a, 'cart', {r: 3}))
    expect(merged.siblings.map((sibling) => text(sibling.value))).toEqual(['apple+pear'])
  })

  it('answers found=false for a missing key', async () => {
    const {daemons} = await tracker.startCluster(3)
    const client = await tracker.client(daemons[1]?.addresses.wire ?? '')
    const read = okGet(await get(client, 'never-written'))
    expect(read.found).toBe(false)
    expect(read.siblings).toEqual([])
  })

  it('with one node closed, meets R=2 and reports the failed replica when R=3 cannot be met', async () => {
    const {daemons} = await tracker.startCluster(3)
    const client = await tracker.client(daemons[0]?.addresses.wire ?? '')
    okPut(await put(client, 'k', 'v', {w: 3}))
    await daemons[2]?.close()
    const read = okGet(await get(client, 'k', {r: 2}))
    expect(read.siblings.map((sibling) => text(sibling.value))).toEqual(['v'])
    const failed = await get(client, 'k', {r: 3})
    expect(failed.ok).toBe(false)
    if (failed.ok) return
    expect(failed.error.code).toBe('QUORUM_NOT_MET')
    expect(failed.error.exitCode).toBe(3)
    const n3 = failed.error.quorum?.replies.find((reply) => reply.node === 'n3')
    expect(n3?.status).toMatch(/^(error|timeout)$/)
    expect(failed.error.message).toContain('n3')
  })

  it('answers a well-framed but malformed request with BAD_REQUEST and keeps the connection', async () => {
    const {daemons} = await tracker.startCluster(3)
    const client = await tracker.client(daemons[0]?.addresses.wire ?? '')
    const missingKey = (await client.request('kv.get', {r: 2})) as GetResponse
    expect(missingKey).toMatchObject({ok: false, error: {code: 'BAD_REQUEST', exitCode: 2}})
    const notAMap = (await client.request('kv.put', 'value')) as PutResponse
    expect(notAMap).toMatchObject({ok: false, error: {code: 'BAD_REQUEST'}})
    const wrongPartition = (await client.request('replica.get', {partition: 99_999, key: bytes('k')})) as {ok: boolean; error?: {code: string}}
    expect(wrongPartition).toMatchObject({ok: false, error: {code: 'BAD_REQUEST'}})
    expect(client.isOpen).toBe(true)
    okPut(await put(client, 'still', 'works'))
  })

  it('closes a connection that sends garbage, logs why, and serves a concurrent client undisturbed', async () => {
    const {daemons} = await tracker.startCluster(3)
    const address = daemons[0]?.addresses.wire ?? ''
    const client = await tracker.client(address)
    const socket = tcpConnect({host, port: Number(address.split(':')[1])})
    tracker.onCleanup(() => void socket.destroy())
    socket.on('error', () => {})
    socket.resume() // read (and drop) the error frame, so the close is seen
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    const garbage = Buffer.alloc(4096)
    for (let index = 0; index < garbage.length; index++) garbage[index] = (index * 7919 + 13) % 256
    const work = (async () => {
      for (let round = 0; round < 20; round++) {
        okPut(await put(client, `g-${round}`, `v-${round}`))
        expect(okGet(await get(client, `g-${round}`)).found).toBe(true)
      }
    })()
    socket.write(garbage)
    await within(socketClosed, 10_000, 'the garbage connection closing')
    await work
    expect(client.isOpen).toBe(true)
    expect(tracker.logs.some((line) => line.includes(' n1 WARN ') && /closing connection|refused connection/.test(line))).toBe(true)
  })
})
