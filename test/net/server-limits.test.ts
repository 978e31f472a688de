import {afterEach, describe, expect, it} from 'vitest'
import {connect} from '../../src/net/client.js'
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
