import {afterEach, describe, expect, it} from 'vitest'
import {connect} from '../../src/net/client.js'
import {ConnectError, ConnectionClosedError, PortInUseError} from '../../src/net/errors.js'
import {NetServer} from '../../src/net/server.js'
import {cluster, deferred, host, Tracker, within} from './harness.js'

const tracker = new Tracker()
afterEach(() => tracker.cleanup())

describe('listening', () => {
  it('reports a port in use with PortInUseError naming the port', async () => {
    const {port} = await tracker.server()
    const second = new NetServer({identity: {cluster, role: 'node', name: 'n2'}})
    const error = await second.listen({host, port}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PortInUseError)
    expect((error as PortInUseError).code).toBe('PORT_IN_USE')
    expect((error as PortInUseError).message).toContain(String(port))
    expect((error as PortInUseError).suggestion).toContain('another port')
    await second.destroy()
  })

  it('reports a refused connect with ConnectError naming the address', async () => {
    const {server, port} = await tracker.server()
    await server.destroy()
    const error = await connect({host, port, identity: {cluster, role: 'client', name: 'c'}}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectError)
    expect((error as ConnectError).message).toContain(`${host}:${port}`)
  })
})

describe('graceful close', () => {
  it('waits for in-flight requests to finish and refuses new ones meanwhile', async () => {
    const {server, port} = await tracker.server()
    const reached = deferred()
    const release = deferred()
    server.handle('slow', async () => {
      reached.resolve()
      await release.promise
      return 'done'
    })
    const client = await tracker.client(port)
    const slow = client.request('slow', null, {timeoutMs: 10_000})
    await within(reached.promise, 5_000, 'request reaching the server')

    let closed = false
    const closing = server.close().then(() => (closed = true))
    // A request sent while the server drains is answered with an error, not dropped.
    await expect(client.request('slow', null)).rejects.toMatchObject({code: 'CONNECTION_CLOSED'})
    expect(closed).toBe(false)

    release.resolve()
    expect(await slow).toBe('done')
    await within(closing, 5_000, 'server close')
    expect(closed).toBe(true)
    await within(client.closed, 5_000, 'client seeing the close')
    expect(() => client.send('slow', null)).toThrow(ConnectionClosedError)
  })

  it('lets a client close gracefully after its own requests are answered', async () => {
    const {server, port} = await tracker.server()
    const release = deferred()
    server.handle('slow', async () => {
      await release.promise
      return 'done'
    })
    const client = await tracker.client(port)
    const slow = client.request('slow', null, {timeoutMs: 10_000})
    const closing = client.close()
    await expect(client.request('slow', null)).rejects.toBeInstanceOf(ConnectionClosedError)
    release.resolve()
    expect(await slow).toBe('done')
    expect(await within(closing, 5_000, 'client close')).toBe('closed')
  })

  it('destroys a connection whose requests outlast the close timeout', async () => {
    const {server, port} = await tracker.server({closeTimeoutMs: 30})
    const reached = deferred()
    server.handle('hang', () => {
      reached.resolve()
      return new Promise(() => {})
    })
    const client = await tracker.client(port)
    const hang = client.request('hang', null, {timeoutMs: 10_000}).catch((e: unknown) => e)
    await within(reached.promise, 5_000, 'request reaching the server')
    await within(server.close(), 5_000, 'server close')
    expect(await hang).toBeInstanceOf(ConnectionClosedError)
  })
})
