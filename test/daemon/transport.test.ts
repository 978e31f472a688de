// The Transport port over src/net: the contract of src/node/ports.ts on real sockets.
import {afterEach, describe, expect, it} from 'vitest'
import {NetTransport} from '../../src/daemon/index.js'
import {NetServer} from '../../src/net/index.js'
import {bytes, cluster, freePort, host, Tracker} from './helpers.js'

const tracker = new Tracker()
afterEach(async () => {
  await tracker.cleanup()
})

async function stubPeer(port: number, handler: () => unknown): Promise<NetServer> {
  const server = new NetServer({identity: {cluster, role: 'node', name: 'n2'}})
  server.handle('replica.get', handler)
  await server.listen({host, port})
  tracker.onCleanup(() => server.destroy())
  return server
}

function transportTo(port: number): NetTransport {
  const transport = new NetTransport({cluster, name: 'n1', addresses: new Map([['n2', `${host}:${port}`]])})
  tracker.onCleanup(() => transport.close())
  return transport
}

const request = {partition: 0, key: bytes('k')}

describe('NetTransport', () => {
  it('rejects with UNKNOWN_PEER, CONNECT_FAILED when nothing listens, then reconnects once the peer is up', async () => {
    const port = await freePort()
    const transport = transportTo(port)
    await expect(transport.request('n9', 'replica.get', request, {timeoutMs: 1000})).rejects.toMatchObject({code: 'UNKNOWN_PEER'})
    await expect(transport.request('n2', 'replica.get', request, {timeoutMs: 1000})).rejects.toMatchObject({code: 'CONNECT_FAILED'})
    const peer = await stubPeer(port, () => ({ok: true}))
    await expect(transport.request('n2', 'replica.get', request, {timeoutMs: 1000})).resolves.toEqual({ok: true})
    expect(transport.openConnections).toBe(1)
    // The peer goes away and comes back: the next request after the failure reconnects.
    await peer.destroy()
    await expect(transport.request('n2', 'replica.get', request, {timeoutMs: 1000})).rejects.toMatchObject({code: expect.stringMatching(/CONNECT_FAILED|CONNECTION_CLOSED/)})
    await stubPeer(port, () => ({ok: true, object: bytes('x')}))
    await expect(transport.request('n2', 'replica.get', request, {timeoutMs: 1000})).resolves.toMatchObject({ok: true})
  })

  it('rejects with TIMEOUT when the peer does not answer in time, and with BAD_RESPONSE for a malformed answer', async () => {
    const port = await freePort()
    let answer: unknown = new Promise(() => {})
    await stubPeer(port, () => answer)
    const transport = transportTo(port)
    const startedMs = performance.now()
    await expect(transport.request('n2', 'replica.get', request, {timeoutMs: 200})).rejects.toMatchObject({code: 'TIMEOUT'})
    expect(performance.now() - startedMs).toBeLessThan(2000)
    answer = {nonsense: true}
    await expect(transport.request('n2', 'replica.get', request, {timeoutMs: 1000})).rejects.toMatchObject({code: 'BAD_RESPONSE'})
  })
})
