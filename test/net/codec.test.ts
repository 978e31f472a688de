import fc from 'fast-check'
import {pack} from 'msgpackr'
import {describe, expect, it} from 'vitest'
import {decodeBody, encodeBody, encodeFrame, FrameDecoder, type Envelope} from '../../src/net/codec.js'
import {FrameTooLargeError, ProtocolError} from '../../src/net/errors.js'

/** Payload values of the shapes the protocol uses: plain objects with string keys,
 * arrays, strings, safe integers, floats, booleans, null and binary. */
const payloadArbitrary: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    {depthSize: 'small', withCrossShrink: true},
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.double({noNaN: true, noDefaultInfinity: true}).filter((x) => !Object.is(x, -0)),
    fc.string(),
    fc.uint8Array({maxLength: 300}),
    fc.array(tie('value'), {maxLength: 4}),
    fc.dictionary(fc.string().filter((key) => key !== '__proto__'), tie('value'), {maxKeys: 4}),
  ),
})).value

const envelopeArbitrary: fc.Arbitrary<Envelope> = fc.record({
  type: fc.string({minLength: 1, maxLength: 20}),
  id: fc.nat({max: 2 ** 31 - 1}),
  payload: payloadArbitrary,
})

/** Binary decodes as Buffer; compare as plain byte arrays. */
function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return {bytes: [...value]}
  if (Array.isArray(value)) return value.map(normalise)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, normalise(inner)]))
  }
  return value
}

/** Cuts `bytes` at the given fractions into consecutive chunks. */
function cut(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let start = 0
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point))
    start = point
  }
  return chunks
}

describe('frame decoder', () => {
  it('decodes any messages cut into any chunks back to the same messages', () => {
    fc.assert(
      fc.property(
        fc.array(envelopeArbitrary, {maxLength: 12}),
        fc.array(fc.double({min: 0, max: 1, noNaN: true}), {maxLength: 30}),
        (envelopes, cuts) => {
          const stream = Buffer.concat(envelopes.map((envelope) => encodeFrame(envelope)))
          const decoder = new FrameDecoder()
          const decoded = cut(stream, cuts).flatMap((chunk) => decoder.push(chunk)).map(decodeBody)
          expect(normalise(decoded)).toEqual(normalise(envelopes))
          expect(decoder.pendingBytes).toBe(0)
        },
      ),
      {numRuns: 300},
    )
  })

  it('rejects an oversized length prefix before any of the body arrives', () => {
    const decoder = new FrameDecoder(1024)
    const header = Buffer.alloc(4)
    header.writeUInt32BE(1025)
    expect(() => decoder.push(header)).toThrow(FrameTooLargeError)
    expect(decoder.pendingBytes).toBe(0)
  })

  it('accepts a frame of exactly the limit', () => {
    const frame = encodeFrame({type: 't', id: 1, payload: new Uint8Array(1000)})
    const decoder = new FrameDecoder(frame.length - 4)
    expect(decoder.push(frame)).toHaveLength(1)
  })

  it('refuses to encode a frame over the limit', () => {
    expect(() => encodeFrame({type: 't', id: 1, payload: new Uint8Array(2000)}, 1000)).toThrow(FrameTooLargeError)
  })

  it('keeps a partial length prefix until the rest arrives', () => {
    const frame = encodeFrame({type: 'ping', id: 7, payload: null})
    const decoder = new FrameDecoder()
    expect(decoder.push(frame.subarray(0, 2))).toEqual([])
    expect(decoder.push(frame.subarray(2, 5))).toEqual([])
    expect(decoder.push(frame.subarray(5)).map(decodeBody)).toEqual([{type: 'ping', id: 7, payload: null}])
  })
})

describe('codec', () => {
  it('round-trips the message shapes of the protocol with binary values as binary', () => {
    const value = new Uint8Array([0, 1, 2, 255])
    const payload = {
      key: new Uint8Array([107]),
      value,
      empty: new Uint8Array(0),
      buffer: Buffer.from('abc'),
      context: {n1: 4, n3: 2 ** 40},
      siblings: [{dot: ['n1', 4], value, tombstone: false}],
      replicas: ['n1', 'n2'],
    }
    const decoded = decodeBody(encodeBody({type: 'put', id: 9, payload})).payload as typeof payload
    expect(decoded.value).toBeInstanceOf(Uint8Array)
    expect([...decoded.value]).toEqual([...value])
    expect(decoded.empty).toBeInstanceOf(Uint8Array)
    expect(decoded.empty.length).toBe(0)
    expect([...decoded.buffer]).toEqual([...Buffer.from('abc')])
    expect(decoded.context).toEqual({n1: 4, n3: 2 ** 40})
    expect(Object.getPrototypeOf(decoded.context)).toBe(Object.prototype)
    expect(decoded.siblings[0]?.dot).toEqual(['n1', 4])
    expect(decoded.replicas).toEqual(['n1', 'n2'])
  })

  it('copies binary values out of the frame they arrived in', () => {
    const frame = encodeFrame({type: 'put', id: 1, payload: {value: new Uint8Array([1, 2, 3])}})
    const [body] = new FrameDecoder().push(frame)
    const decoded = decodeBody(body ?? new Uint8Array()).payload as {value: Uint8Array}
    expect(decoded.value.buffer).not.toBe(frame.buffer)
  })

  it('binary differs from strings and arrays of numbers on the wire', () => {
    const decoded = decodeBody(encodeBody({type: 't', id: 0, payload: [new Uint8Array([65]), 'A', [65]]})).payload
    const [bin, text, list] = decoded as [unknown, unknown, unknown]
    expect(bin).toBeInstanceOf(Uint8Array)
    expect(text).toBe('A')
    expect(list).toEqual([65])
  })

  it('rejects bodies that are not envelopes with named protocol errors', () => {
    const cases: [unknown, string][] = [
      [{type: 'x', id: 1}, 'INVALID_ENVELOPE'],
      [['x', 1], 'INVALID_ENVELOPE'],
      [['', 1, null], 'INVALID_ENVELOPE'],
      [[7, 1, null], 'INVALID_ENVELOPE'],
      [['x', -1, null], 'INVALID_ENVELOPE'],
      [['x', 1.5, null], 'INVALID_ENVELOPE'],
      [['x', 2 ** 31, null], 'INVALID_ENVELOPE'],
    ]
    for (const [value, code] of cases) {
      expect(() => decodeBody(pack(value))).toThrow(ProtocolError)
      expect(() => decodeBody(pack(value))).toThrow(expect.objectContaining({code}))
    }
  })

  it('rejects undecodable bodies and trailing bytes', () => {
    expect(() => decodeBody(new Uint8Array(0))).toThrow(expect.objectContaining({code: 'UNDECODABLE_FRAME'}))
    expect(() => decodeBody(new Uint8Array([0xd9, 5, 65]))).toThrow(expect.objectContaining({code: 'UNDECODABLE_FRAME'}))
    const body = encodeBody({type: 'x', id: 1, payload: null})
    expect(() => decodeBody(Buffer.concat([body, Buffer.from([0])]))).toThrow(expect.objectContaining({code: 'UNDECODABLE_FRAME'}))
  })
})
