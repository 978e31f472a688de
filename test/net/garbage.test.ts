// Bad input closes the connection that carried it, with a logged reason, and nothing else
// (DESIGN §1.5): a well-behaved client connected at the same time keeps working.
import fc from 'fast-check'
import {afterEach, describe, expect, it} from 'vitest'
import {encodeFrame} from '../../src/net/codec.js'
import type {Connection, LogEntry} from '../../src/net/connection.js'
import {frameBytesMax} from '../../src/core/limits.js'
import {Tracker, within, type RawPeer} from './harness.js'

const tracker = new Tracker()
afterEach(() => tracker.cleanup())

async function setup(options: {helloTimeoutMs?: number} = {}): Promise<{port: number; logs: LogEntry[]; good: Connection}> {
  const {server, port, logs} = await tracker.server(options)
  server.handle('ping', (payload) => payload)
  const good = await tracker.client(port)
  return {port, logs, good}
}

function frameHeader(bodyBytes: number): Uint8Array {
  const header = Buffer.alloc(4)
  header.writeUInt32BE(bodyBytes)
  return header
}

/** Waits for the server to close the raw connection and returns the logged reason's code. */
async function closedWith(raw: RawPeer, logs: LogEntry[]): Promise<string | undefined> {
  const before = logs.length
  await within(raw.closed, 5_000, 'server closing the connection')
  const entry = logs.slice(before).find((e) => e.level === 'warn') ?? logs.at(-1)
  return entry?.code
}

async function stillWorks(good: Connection): Promise<void> {
  const value = new Uint8Array([1, 2, 3])
  expect([...((await good.request('ping', value)) as Uint8Array)]).toEqual([1, 2, 3])
}

describe('garbage on the server port', () => {
  it('closes on random bytes framed as a body', async () => {
    const {port, logs, good} = await setup()
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({minLength: 1, maxLength: 200}), async (body) => {
        const raw = await tracker.raw(port)
        raw.write(Buffer.concat([frameHeader(body.length), body]))
        const code = await closedWith(raw, logs)
        expect(code).toMatch(/^(UNDECODABLE_FRAME|INVALID_ENVELOPE|EXPECTED_HELLO|INVALID_HELLO|PROTOCOL_MISMATCH)$/)
        expect(raw.closingCode()).toBe(code)
      }),
      {numRuns: 25},
    )
    await stillWorks(good)
  })

  it('closes on random bytes with a length prefix over the limit, before the body arrives', async () => {
    const {port, logs, good} = await setup()
    await fc.assert(
      fc.asyncProperty(fc.integer({min: frameBytesMax + 1, max: 2 ** 32 - 1}), fc.uint8Array({maxLength: 100}), async (length, rest) => {
        const raw = await tracker.raw(port)
        raw.write(Buffer.concat([frameHeader(length), rest]))
        expect(await closedWith(raw, logs)).toBe('FRAME_TOO_LARGE')
      }),
      {numRuns: 10},
    )
    await stillWorks(good)
  })

  it('closes on an oversized frame after a good hello', async () => {
    const {port, logs, good} = await setup()
    const raw = await tracker.raw(port)
    raw.hello()
    raw.write(frameHeader(frameBytesMax + 1))
    expect(await closedWith(raw, logs)).toBe('FRAME_TOO_LARGE')
    expect(raw.closingCode()).toBe('FRAME_TOO_LARGE')
    await stillWorks(good)
  })

  it('closes on an undecodable body after a good hello', async () => {
    const {port, logs, good} = await setup()
    const raw = await tracker.raw(port)
    raw.hello()
    raw.write(Buffer.concat([frameHeader(3), Buffer.from([0xd9, 0x05, 0x41])])) // str8 of 5 bytes, 1 present
    expect(await closedWith(raw, logs)).toBe('UNDECODABLE_FRAME')
    await stillWorks(good)
  })

  it('closes on a body that is not an envelope', async () => {
    const {port, logs, good} = await setup()
    const raw = await tracker.raw(port)
    raw.hello()
    raw.write(Buffer.concat([frameHeader(1), Buffer.from([0x2a])])) // the number 42
    expect(await closedWith(raw, logs)).toBe('INVALID_ENVELOPE')
    await stillWorks(good)
  })

  it('closes on an unknown message type', async () => {
    const {port, logs, good} = await setup()
    const raw = await tracker.raw(port)
    raw.hello()
    raw.write(encodeFrame({type: 'launch-missiles', id: 1, payload: null}))
    expect(await closedWith(raw, logs)).toBe('UNKNOWN_TYPE')
    expect(logs.some((entry) => entry.message.includes("'launch-missiles'"))).toBe(true)
    await stillWorks(good)
  })

  it('closes on a request before the hello', async () => {
    const {port, logs, good} = await setup()
    const raw = await tracker.raw(port)
    raw.write(encodeFrame({type: 'ping', id: 1, payload: null}))
    expect(await closedWith(raw, logs)).toBe('EXPECTED_HELLO')
    await stillWorks(good)
  })

  it('closes a connection that never says hello after the hello timeout', async () => {
    const {port, logs, good} = await setup({helloTimeoutMs: 50})
    const raw = await tracker.raw(port)
    expect(await closedWith(raw, logs)).toBe('TIMEOUT')
    await stillWorks(good)
  })
})
