import {connect as tcpConnect} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {Connection} from '../../src/net/connection.js'
import {ConnectionClosedError, InFlightLimitError, RemoteError, RequestAbortedError, TimeoutError} from '../../src/net/errors.js'
import {DynError} from '../../src/core/errors.js'
import {cluster, deferred, host, Tracker, within} from './harness.js'

const tracker = new Tracker()
afterEach(() => tracker.cleanup())

describe('requests and replies', () => {
  it('round-trips binary values', async () => {
    const {server, port} = await tracker.server()
    server.handle('echo', (payload) => ({echoed: payload}))
    const client = await tracker.client(port)
    const value = new Uint8Array([0, 255, 1, 254])
    const reply = (await client.request('echo', {key: new Uint8Array([7]), value})) as {echoed: {key: Uint8Array; value: Uint8Array}}
    expect(reply.echoed.value).toBeInstanceOf(Uint8Array)
    expect([...reply.echoed.value]).toEqual([...value])
    expect([...reply.echoed.key]).toEqual([7])
  })

  it('correlates concurrent requests answered out of order', async () => {
    const {server, port} = await tracker.server()
    const gates = new Map<number, () => void>()
    server.handle('slow', async (payload) => {
      const n = payload as number
      await new Promise<void>((resolve) => gates.set(n, resolve))
      return n * 10
    })
    const client = await tracker.client(port)
    const count = 50
    const replies = Array.from({length: count}, (_, n) => client.request('slow', n))
    await within(
      (async () => {
        while (gates.size < count) await new Promise((resolve) => setImmediate(resolve))
      })(),
      5_000,
      'all requests reaching the server',
    )
    for (let n = count - 1; n >= 0; n--) gates.get(n)?.()
    expect(await Promise.all(replies)).toEqual(Array.from({length: count}, (_, n) => n * 10))
    expect(client.inFlight).toBe(0)
  })

  it('delivers one-way messages', async () => {
    const {server, port} = await tracker.server()
    const got = deferred<unknown>()
    server.handle('note', (payload) => got.resolve(payload))
    const client = await tracker.client(port)
    client.send('note', {hello: 'there'})
    expect(await within(got.promise, 5_000, 'one-way delivery')).toEqual({hello: 'there'})
  })

  it('turns a handler error into an error reply carrying its code, and keeps serving', async () => {
    const {server, port} = await tracker.server()
    server.handle('fail', () => {
      throw new DynError('no such thing', {code: 'NOPE', suggestion: 'ask for something else'})
    })
    server.handle('crash', async () => {
      throw new Error('boom')
    })
    server.handle('ok', () => 'fine')
    const client = await tracker.client(port)
    await expect(client.request('fail', null)).rejects.toMatchObject({code: 'NOPE', message: 'no such thing', suggestion: 'ask for something else'})
    await expect(client.request('crash', null)).rejects.toBeInstanceOf(RemoteError)
    await expect(client.request('crash', null)).rejects.toMatchObject({code: 'HANDLER_FAILED', message: 'boom'})
    expect(await client.request('ok', null)).toBe('fine')
  })

  it('times out a request with no reply with a TimeoutError, and ignores the late reply', async () => {
    const {server, port} = await tracker.server()
    const release = deferred()
    server.handle('hang', async () => {
      await release.promise
      return 'late'
    })
    server.handle('ok', () => 'fine')
    const client = await tracker.client(port)
    const error = await client.request('hang', null, {timeoutMs: 20}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TimeoutError)
    expect((error as TimeoutError).message).toContain("request 'hang'")
    expect(client.inFlight).toBe(0)
    release.resolve()
    expect(await client.request('ok', null)).toBe('fine')
  })

  it('aborts a request through its AbortSignal', async () => {
    const {server, port} = await tracker.server()
    const reached = deferred()
    server.handle('hang', () => {
      reached.resolve()
      return new Promise(() => {})
    })
    const client = await tracker.client(port)
    const controller = new AbortController()
    const pending = client.request('hang', null, {signal: controller.signal, timeoutMs: 60_000})
    await within(reached.promise, 5_000, 'request reaching the server')
    controller.abort(new Error('user pressed ctrl-c'))
    await expect(pending).rejects.toBeInstanceOf(RequestAbortedError)
    expect(client.inFlight).toBe(0)
    await expect(client.request('hang', null, {signal: controller.signal})).rejects.toBeInstanceOf(RequestAbortedError)
  })

  it('refuses requests beyond the in-flight bound with InFlightLimitError', async () => {
    const {server, port} = await tracker.server()
    server.handle('hang', () => new Promise(() => {}))
    const client = await tracker.client(port, {inFlightRequestsMax: 3})
    const held = [1, 2, 3].map(() => client.request('hang', null, {timeoutMs: 60_000}).catch((e: unknown) => e))
    await expect(client.request('hang', null)).rejects.toBeInstanceOf(InFlightLimitError)
    client.destroy()
    for (const result of await Promise.all(held)) expect(result).toBeInstanceOf(ConnectionClosedError)
  })

  it('closes a peer that sends more requests in flight than the server allows', async () => {
    const {server, port, logs} = await tracker.server({inFlightRequestsMax: 2})
    server.handle('hang', () => new Promise(() => {}))
    const client = await tracker.client(port)
    const results = [1, 2, 3].map(() => client.request('hang', null).catch((e: unknown) => e))
    for (const result of await within(Promise.all(results), 5_000, 'connection closing')) expect(result).toBeInstanceOf(ConnectionClosedError)
    expect(logs.some((entry) => entry.code === 'IN_FLIGHT_LIMIT')).toBe(true)
  })

  it('fails pending requests with ConnectionClosedError when the peer goes away', async () => {
    const {server, port} = await tracker.server()
    const reached = deferred()
    server.handle('hang', () => {
      reached.resolve()
      return new Promise(() => {})
    })
    const client = await tracker.client(port)
    const pending = client.request('hang', null, {timeoutMs: 60_000})
    await within(reached.promise, 5_000, 'request reaching the server')
    await server.destroy()
    await expect(pending).rejects.toBeInstanceOf(ConnectionClosedError)
    expect(() => client.send('hang', null)).toThrow(ConnectionClosedError)
  })

  it('lets both ends send requests on one connection', async () => {
    const connected = deferred<Connection>()
    const {port} = await tracker.server({onConnection: (connection) => connected.resolve(connection)})
    const client = await tracker.client(port, {handlers: new Map([['whoami', () => 'the client']])})
    const serverSide = await within(connected.promise, 5_000, 'server connection')
    expect(await serverSide.request('whoami', null)).toBe('the client')
    expect(serverSide.peer).toMatchObject({role: 'client', name: 'test'})
    expect(client.peer).toMatchObject({role: 'node', name: 'n1'})
  })
})

describe('write batching', () => {
  it('sends the frames written in one tick in one socket write', async () => {
    const {server, port} = await tracker.server()
    const count = 1_000
    let received = 0
    const all = deferred()
    server.handle('note', () => {
      if (++received === count) all.resolve()
    })
    const socket = tcpConnect({host, port})
    await new Promise((resolve) => socket.once('connect', resolve))
    // Count the writes the stream hands to the OS: one _write or _writev each.
    const spied = socket as unknown as {_write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void}
    let socketWrites = 0
    const write = spied._write.bind(socket)
    const writev = spied._writev.bind(socket)
    spied._write = (...args) => (socketWrites++, write(...args))
    spied._writev = (...args) => (socketWrites++, writev(...args))
    const client = tracker.track(new Connection(socket, {side: 'connector', identity: {cluster, role: 'client', name: 'batch'}}))
    await client.ready
    socketWrites = 0
    for (let n = 0; n < count; n++) client.send('note', n)
    await within(all.promise, 5_000, 'all messages arriving')
    expect(socketWrites).toBe(1)
    expect(client.stats.framesWritten).toBe(count + 1) // and the hello
  })

  it('delivers a tick of frames larger than one joined write intact and in order', async () => {
    const {server, port} = await tracker.server()
    const got: number[] = []
    const all = deferred()
    const count = 40
    server.handle('chunk', (payload) => {
      const {n, body} = payload as {n: number; body: Uint8Array}
      if (body.length !== 4096 || body.some((byte) => byte !== n % 251)) throw new Error(`frame ${n} arrived damaged`)
      got.push(n)
      if (got.length === count) all.resolve()
    })
    const client = await tracker.client(port)
    const before = client.stats.flushes
    // 40 frames of 4 KiB: over joinBytesMax, so written one by one inside a cork.
    for (let n = 0; n < count; n++) client.send('chunk', {n, body: new Uint8Array(4096).fill(n % 251)})
    await within(all.promise, 5_000, 'all chunks arriving')
    expect(got).toEqual(Array.from({length: count}, (_, n) => n))
    expect(client.stats.flushes - before).toBe(1)
  })

  it('flushes the last replies before a graceful close ends the socket', async () => {
    const {server, port} = await tracker.server()
    server.handle('late', async (payload) => {
      await new Promise((resolve) => setTimeout(resolve, 20))
      return payload
    })
    const client = await tracker.client(port)
    const replies = Array.from({length: 10}, (_, n) => client.request('late', n))
    await new Promise((resolve) => setTimeout(resolve, 5))
    const closed = client.close()
    expect(await Promise.all(replies)).toEqual(Array.from({length: 10}, (_, n) => n))
    expect(await within(closed, 5_000, 'the close')).toBe('closed')
  })
})
