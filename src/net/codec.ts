// Framing and codec of the wire protocol (DESIGN §7): each frame is a 4-byte big-endian
// body length followed by a MessagePack body. The body is the envelope
// `[type, id, payload]`, an array rather than a map so that no field name travels in any
// frame. See docs/protocol.md for the message shapes.
import {Packr} from 'msgpackr'
import {assert} from '../core/errors.js'
import {frameBytesMax as frameBytesMaxDefault} from '../core/limits.js'
import {nameBytesMax, requestIdMax} from './constants.js'
import {FrameTooLargeError, ProtocolError} from './errors.js'

/** Bytes of the length prefix. */
export const frameHeaderBytes = 4

/**
 * msgpackr configured for an open protocol between programs that share no state:
 * - useRecords false: no record extension, so every frame decodes on its own (records
 *   would make a frame depend on structures defined by earlier frames).
 * - mapsAsObjects true: MessagePack maps decode to plain objects. Payloads use only plain
 *   objects with string keys (never `Map`, whose non-string keys would become strings).
 * - copyBuffers true: binary values are copied out of the frame, so a small key kept in
 *   memory does not pin the whole socket chunk it arrived in.
 * - int64AsType 'number': counters stay numbers (payload integers are safe integers).
 * - moreTypes false, structuredClone false, bundleStrings false: plain MessagePack only,
 *   readable by any MessagePack library.
 * Binary values are `Uint8Array` on the way in and decode as `Buffer` (a Uint8Array).
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  copyBuffers: true,
  int64AsType: 'number',
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
})

/** What one frame carries. `id` is the request id: 0 for hello, one-way messages and
 * connection-level errors; otherwise the id of the request a reply or error answers. */
export interface Envelope {
  type: string
  id: number
  payload: unknown
}

/** Encodes a MessagePack body; throws FrameTooLargeError when it would exceed the limit. */
export function encodeBody(envelope: Envelope, frameBytesMax = frameBytesMaxDefault): Buffer {
  const body = packr.pack([envelope.type, envelope.id, envelope.payload])
  if (body.length > frameBytesMax) throw new FrameTooLargeError(body.length, frameBytesMax)
  return body
}

/** One complete frame: length prefix and body in one buffer, ready for one write. */
export function encodeFrame(envelope: Envelope, frameBytesMax = frameBytesMaxDefault): Buffer {
  const body = encodeBody(envelope, frameBytesMax)
  const frame = Buffer.allocUnsafe(frameHeaderBytes + body.length)
  frame.writeUInt32BE(body.length, 0)
  body.copy(frame, frameHeaderBytes)
  return frame
}

/** Decodes and validates a frame body; throws ProtocolError if it is not an envelope. */
export function decodeBody(body: Uint8Array): Envelope {
  let value: unknown
  try {
    value = packr.unpack(body)
  } catch (error) {
    throw new ProtocolError(`undecodable frame body: ${error instanceof Error ? error.message : String(error)}`, 'UNDECODABLE_FRAME')
  }
  return checkEnvelope(value)
}

function checkEnvelope(value: unknown): Envelope {
  if (!Array.isArray(value) || value.length !== 3) {
    throw new ProtocolError('frame body is not an envelope [type, id, payload]', 'INVALID_ENVELOPE')
  }
  const [type, id, payload] = value as [unknown, unknown, unknown]
  if (typeof type !== 'string' || type.length === 0 || Buffer.byteLength(type) > nameBytesMax) {
    throw new ProtocolError(`frame type must be a string of 1 to ${nameBytesMax} bytes`, 'INVALID_ENVELOPE')
  }
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > requestIdMax) {
    throw new ProtocolError(`frame id must be an integer from 0 to ${requestIdMax}`, 'INVALID_ENVELOPE')
  }
  return {type, id, payload}
}

/**
 * Streaming frame splitter: feed it socket chunks as they come; it returns the bodies of
 * the frames completed so far. Chunks are kept in a list and joined only when a frame is
 * complete, so a large frame arriving in many chunks is copied once, not once per chunk.
 * A length prefix over the limit throws FrameTooLargeError before any of the body is kept.
 */
export class FrameDecoder {
  private readonly frameBytesMax: number
  private chunks: Uint8Array[] = []
  /** Bytes held in `chunks`; invariant: equals the sum of their lengths. */
  private bufferedBytes = 0
  /** Body length of the frame being read, once its prefix has been read. */
  private bodyBytes: number | undefined = undefined

  constructor(frameBytesMax = frameBytesMaxDefault) {
    this.frameBytesMax = frameBytesMax
  }

  /** Bytes received but not yet returned as part of a frame. */
  get pendingBytes(): number {
    return this.bufferedBytes
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk)
      this.bufferedBytes += chunk.length
    }
    const bodies: Uint8Array[] = []
    for (;;) {
      if (this.bodyBytes === undefined) {
        if (this.bufferedBytes < frameHeaderBytes) break
        const header = this.take(frameHeaderBytes)
        const length = new DataView(header.buffer, header.byteOffset, frameHeaderBytes).getUint32(0)
        if (length > this.frameBytesMax) {
          this.chunks = []
          this.bufferedBytes = 0
          throw new FrameTooLargeError(length, this.frameBytesMax)
        }
        this.bodyBytes = length
      }
      if (this.bufferedBytes < this.bodyBytes) break
      bodies.push(this.take(this.bodyBytes))
      this.bodyBytes = undefined
    }
    return bodies
  }

  /** Removes `count` bytes from the front; copies only when they span chunks. */
  private take(count: number): Uint8Array {
    this.bufferedBytes -= count
    const first = this.chunks[0]
    if (first !== undefined && first.length >= count) {
      if (first.length === count) this.chunks.shift()
      else this.chunks[0] = first.subarray(count)
      return first.subarray(0, count)
    }
    const out = new Uint8Array(count)
    let filled = 0
    while (filled < count) {
      const chunk = this.chunks[0]
      assert(chunk !== undefined, 'frame decoder took more bytes than it holds')
      const used = Math.min(chunk.length, count - filled)
      out.set(chunk.subarray(0, used), filled)
      filled += used
      if (used === chunk.length) this.chunks.shift()
      else this.chunks[0] = chunk.subarray(used)
    }
    return out
  }
}
