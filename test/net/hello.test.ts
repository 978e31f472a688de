import {createServer, type Socket} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {connect} from '../../src/net/client.js'
import {AuthError, ClusterMismatchError, ProtocolMismatchError, TimeoutError} from '../../src/net/errors.js'
import {protocolVersion} from '../../src/net/constants.js'
import {cluster, host, Tracker} from './harness.js'

const tracker = new Tracker()
afterEach(() => tracker.cleanup())

const secret = new TextEncoder().encode('correct horse battery staple')

describe('hello', () => {
  it('tells the peer who this is', async () => {
    const {port} = await tracker.server({name: 'n7'})
    const client = await tracker.client(port)
    expect(client.peer).toMatchObject({role: 'node', name: 'n7', address: `${host}:${port}`})
  })

  it('refuses a protocol version mismatch with ProtocolMismatchError, and keeps serving others', async () => {
    const {server, port, logs} = await tracker.server()
    server.handle('ping', () => 'pong')
    const good = await tracker.client(port)
    const error = await tracker.client(port, {identity: {cluster, role: 'client', name: 'old', version: protocolVersion + 1}}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ProtocolMismatchError)
    expect((error as ProtocolMismatchError).code).toBe('PROTOCOL_MISMATCH')
    expect((error as ProtocolMismatchError).message).toContain(`version ${protocolVersion + 1}`)
    expect((error as ProtocolMismatchError).suggestion).toContain('same dyn version')
    expect(await good.request('ping', null)).toBe('pong')
    expect((await tracker.client(port)).isOpen).toBe(true)
    expect(logs.some((entry) => entry.code === 'PROTOCOL_MISMATCH')).toBe(true)
  })

  it('refuses a cluster name mismatch with ClusterMismatchError, and keeps serving others', async () => {
    const {server, port, logs} = await tracker.server()
    server.handle('ping', () => 'pong')
    const good = await tracker.client(port)
    const error = await tracker.client(port, {identity: {cluster: 'other', role: 'client', name: 'lost'}}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ClusterMismatchError)
    expect((error as ClusterMismatchError).message).toContain(`'other'`)
    expect((error as ClusterMismatchError).message).toContain(`'${cluster}'`)
    expect(await good.request('ping', null)).toBe('pong')
    expect(logs.some((entry) => entry.code === 'CLUSTER_MISMATCH')).toBe(true)
  })

  it('sends the refusal to the peer as an error frame before closing', async () => {
    const {port} = await tracker.server()
    const raw = await tracker.raw(port)
    raw.hello({cluster: 'elsewhere'})
    await raw.closed
    expect(raw.received[0]?.type).toBe('hello')
    expect(raw.closingCode()).toBe('CLUSTER_MISMATCH')
  })

  it('fails the connect with TimeoutError when the server never says hello', async () => {
    const sockets: Socket[] = []
    const silent = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, host, resolve))
    try {
      const address = silent.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      await expect(connect({host, port, identity: {cluster, role: 'client', name: 'c'}, helloTimeoutMs: 50})).rejects.toBeInstanceOf(TimeoutError)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })
})

describe('hello with a cluster secret', () => {
  it('opens when both sides know the secret', async () => {
    const {server, port} = await tracker.server({identity: {cluster, role: 'node', name: 'n1', secret}})
    server.handle('ping', () => 'pong')
    const client = await tracker.client(port, {identity: {cluster, role: 'client', name: 'c', secret}})
    expect(await client.request('ping', null)).toBe('pong')
  })

  it('refuses a wrong secret on both sides with AuthError', async () => {
    const {port, logs} = await tracker.server({identity: {cluster, role: 'node', name: 'n1', secret}})
    const wrong = new TextEncoder().encode('wrong')
    const error = await tracker.client(port, {identity: {cluster, role: 'client', name: 'c', secret: wrong}}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthError)
    expect(logs.some((entry) => entry.code === 'AUTH_FAILED')).toBe(true)
  })

  it('refuses a client without a secret when the server has one, and the reverse', async () => {
    const {port} = await tracker.server({identity: {cluster, role: 'node', name: 'n1', secret}})
    await expect(tracker.client(port)).rejects.toBeInstanceOf(AuthError)
    const open = await tracker.server({name: 'n2'})
    await expect(tracker.client(open.port, {identity: {cluster, role: 'client', name: 'c', secret}})).rejects.toBeInstanceOf(AuthError)
  })
})
