import {afterEach, describe, expect, it} from 'vitest'
import {Buffer} from 'node:buffer'
import {connect} from '../../src/net/client.js'
import {encodeFrame} from '../../src/net/codec.js'
import {RemoteError} from '../../src/net/errors.js'
import {cluster, deferred, host, Tracker, within} from './harness.js'

const tracker = new Tracker()
afterEach(() => tracker.cleanup())

describe('connection limit', () => {
  it('turns away a connection over the limit with TOO_MANY_CONNECTIONS, keeps serving the open ones, and takes new ones once some close', async () => {
    const {server, port, logs} = await tracker.server({connectionsMax: 2})
    server.handle('echo', async (payload) => payload)
    const first = await tracker.client(port)
    const second = await tracker.client(port)
    expect(server.connections.size).toBe(2)

    for (let i = 0; i < 3; i++) {
      const error = await connect({host, port, identity: {cluster, role: 'client', name: 'over'}}).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RemoteError)
      expect((error as RemoteError).code).toBe('TOO_MANY_CONNECTIONS')
      expect((error as RemoteError).message).toContain('2 connections open')
    }
    expect(server.turnedAway).toBe(3)
    // One warning for the burst, not one per connection.
    expect(logs.filter((entry) => entry.code === 'TOO_MANY_CONNECTIONS')).toHaveLength(1)
    // The connections inside the limit were not disturbed.
    expect(await first.request('echo', 'still here')).toBe('still here')
    expect(await second.request('echo', 'me too')).toBe('me too')

    await first.close()
    await within(
      (async () => {
        while (server.connections.size > 1) await new Promise((resolve) => setTimeout(resolve, 10))
      })(),
      5_000,
      'the server seeing the close',
    )
    const third = await tracker.client(port)
    expect(await third.request('echo', 'in')).toBe('in')
    // The turned-away sockets are freed, not held until a timer: the listener closes at once.
    await third.close()
    await second.close()
    await within(server.close(), 2_000, 'the server closing with no socket left behind')
  })
})

describe('idle timeout', () => {
  it('closes an accepted connection quiet for idleTimeoutMs, and keeps one with traffic or a request in flight', async () => {
    const {server, port, logs} = await tracker.server({idleTimeoutMs: 500})
    const release = deferred()
    server.handle('echo', async (payload) => payload)
    server.handle('slow', async () => {
      await release.promise
      return 'done'
    })
    const quiet = await tracker.client(port)
    const busy = await tracker.client(port)
    const waiting = await tracker.client(port)
    const slow = waiting.request('slow', null, {timeoutMs: 10_000})
    let quietClosed = false
    void quiet.closed.then(() => (quietClosed = true))
    // busy sends a request every 50 ms for 1.5 s, three idle spans: only a stall of the
    // whole process for 500 ms would close it.
    for (let i = 0; i < 30; i++) {
      expect(await busy.request('echo', i)).toBe(i)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(quietClosed).toBe(true)
    expect(busy.isOpen).toBe(true)
    // A request in flight longer than the idle span keeps its connection.
    expect(waiting.isOpen).toBe(true)
    release.resolve()
    expect(await slow).toBe('done')
    expect(logs.some((entry) => entry.code === 'IDLE')).toBe(true)
    // The quiet one is gone from the server's connections too.
    expect(server.connections.size).toBe(2)
  })
})

describe('slow reader', () => {
  it('stops reading the requests of a client that does not read its answers, and serves it again once it reads', async () => {
    const limit = 1024 * 1024
    const {server, port} = await tracker.server({slowReaderBytesMax: limit})
    const blob = new Uint8Array(64 * 1024)
    let handled = 0
    server.handle('blob', async () => {
      handled++
      return blob
    })
    const peer = await tracker.raw(port)
    peer.hello()
    peer.socket.pause() // reads nothing from now on
    // 1,000 requests, within the 1,024 a client may have outstanding (answers it has not
    // read count), in waves of 250 that the node answers at once: without the limit its
    // 64 MB of answers would pile up in the node.
    const requests = 1_000
    const wave = 250
    for (let start = 0; start < requests; start += wave) {
      peer.write(Buffer.concat(Array.from({length: wave}, (_, i) => encodeFrame({type: 'blob', id: start + i + 1, payload: null}))))
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const connection = () => [...server.connections][0]!
    await within(
      (async () => {
        while (server.connections.size === 0 || !connection().backlog.readsPaused) await new Promise((resolve) => setTimeout(resolve, 10))
      })(),
      5_000,
      'the server pausing its reads',
    )
    const handledWhenPaused = handled
    await new Promise((resolve) => setTimeout(resolve, 300))
    // Nothing more was read, and what waits in the node is a fraction of the answers.
    expect(handled).toBe(handledWhenPaused)
    expect(handled).toBeLessThan(requests)
    expect(connection().backlog.bytes).toBeLessThan(16 * limit)
    // The client reads again: every request is answered.
    peer.socket.resume()
    await within(
      (async () => {
        while (peer.received.filter((envelope) => envelope.type === 'reply').length < requests) await new Promise((resolve) => setTimeout(resolve, 20))
      })(),
      20_000,
      'every answer reaching the client',
    )
    expect(handled).toBe(requests)
    expect(connection().backlog.readsPaused).toBe(false)
  })
})
