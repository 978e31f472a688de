// Canonical binary encoding of stored objects. The store persists these bytes and the Merkle
// tree hashes them (versionDigest), so one object has exactly one encoding: decode accepts
// only what encode writes, and `encode(decode(bytes))` returns `bytes`.
//
// Format 1, big-endian:
//   u8  format (1)
//   u16 version vector entries, each: u16 name bytes, name (UTF-8), u64 counter
//   u32 siblings, each: u16 index of its dot's node in the version vector, u64 counter,
//       u8 kind (0 value, 1 tombstone), and for a value: u32 bytes, bytes
// Entries are strictly sorted by node name and siblings by dot, as in memory; a dot names its
// node by index, which also checks on read that the version vector covers it.
import {Buffer} from 'node:buffer'
import {hash} from 'node:crypto'
import {DynError, assert, exitCodes} from '../errors.js'
import type {Sibling, StoredObject} from './object.js'
import type {VersionVector, VersionVectorEntry} from './version-vector.js'
import {compareDots, compareNodeNames, isValidCounter} from './version-vector.js'

export const objectFormat = 1

const u16Max = 0xffff
const u32Max = 0xffffffff
const counterHighMax = 2 ** 21 // 2^53 / 2^32: counters stay safe integers
const siblingKindCode = {value: 0, tombstone: 1} as const

export class ObjectDecodeError extends DynError {
  constructor(problem: string) {
    super(`stored object is corrupt: ${problem}`, {
      code: 'OBJECT_CORRUPT',
      exitCode: exitCodes.error,
      suggestion: 'the replica copy is unreadable; anti-entropy or read repair restores it from the other replicas',
    })
  }
}

/** Appends big-endian fields into one growing buffer; `bytes()` returns everything
 * written. Give the exact size when it is known (encodeObject does): the buffer is then
 * allocated once and returned without a copy. */
export class ByteWriter {
  private array: Uint8Array
  private view: Buffer
  private length = 0

  constructor(capacity = 64) {
    this.array = new Uint8Array(capacity)
    this.view = Buffer.from(this.array.buffer, this.array.byteOffset, this.array.byteLength)
  }

  u8(value: number): void {
    this.reserve(1)
    this.array[this.length++] = value
  }

  u16(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= u16Max, 'u16 field in range')
    this.reserve(2)
    this.length = this.view.writeUInt16BE(value, this.length)
  }

  u32(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= u32Max, 'u32 field in range')
    this.reserve(4)
    this.length = this.view.writeUInt32BE(value, this.length)
  }

  /** A safe integer as u64. */
  u64(value: number): void {
    assert(Number.isSafeInteger(value) && value >= 0, 'u64 field is a safe integer')
    this.u32(Math.floor(value / 2 ** 32))
    this.u32(value % 2 ** 32)
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length)
    this.array.set(bytes, this.length)
    this.length += bytes.length
  }

  /** A string as UTF-8 with a u16 length in front. */
  text16(text: string): void {
    const size = Buffer.byteLength(text, 'utf8')
    this.u16(size)
    this.reserve(size)
    this.length += this.view.write(text, this.length, size, 'utf8')
  }

  bytes(): Uint8Array {
    return this.length === this.array.length ? this.array : this.array.slice(0, this.length)
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes
    if (needed <= this.array.length) return
    const grown = new Uint8Array(Math.max(needed, this.array.length * 2))
    grown.set(this.array.subarray(0, this.length))
    this.array = grown
    this.view = Buffer.from(grown.buffer, grown.byteOffset, grown.byteLength)
  }
}

/** Reads big-endian fields; every failure goes through `fail`, which throws the caller's
 * named error. */
export class ByteReader {
  private offset = 0
  private readonly buffer: Buffer

  constructor(
    bytes: Uint8Array,
    readonly fail: (problem: string) => never,
  ) {
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get remaining(): number {
    return this.buffer.length - this.offset
  }

  private take(length: number, what: string): Buffer {
    if (length > this.remaining) this.fail(`truncated: ${what} needs ${length} bytes, ${this.remaining} left`)
    const chunk = this.buffer.subarray(this.offset, this.offset + length)
    this.offset += length
    return chunk
  }

  u8(what: string): number {
    return this.take(1, what).readUInt8()
  }

  u16(what: string): number {
    return this.take(2, what).readUInt16BE()
  }

  u32(what: string): number {
    return this.take(4, what).readUInt32BE()
  }

  u64(what: string): number {
    const high = this.u32(what)
    const low = this.u32(what)
    if (high >= counterHighMax) this.fail(`${what} is beyond 2^53`)
    return high * 2 ** 32 + low
  }

  raw(length: number, what: string): Uint8Array {
    return new Uint8Array(this.take(length, what))
  }

  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} bytes after the end`)
  }
}

const utf8 = new TextDecoder('utf-8', {fatal: true})

export function writeVersionVector(writer: ByteWriter, vv: VersionVector): void {
  writer.u16(vv.length)
  for (const entry of vv) {
    writer.text16(entry.node)
    writer.u64(entry.counter)
  }
}

/** Reads a version vector and checks it is canonical (sorted, distinct, positive). */
export function readVersionVector(reader: ByteReader): VersionVector {
  const count = reader.u16('version vector size')
  const entries: VersionVectorEntry[] = []
  for (let index = 0; index < count; index++) {
    const node = readNodeName(reader)
    const counter = reader.u64(`counter of ${node}`)
    if (!isValidCounter(counter)) reader.fail(`counter of ${node} is 0`)
    const previous = entries[index - 1]
    if (previous !== undefined && compareNodeNames(previous.node, node) >= 0) {
      reader.fail('version vector entries are not sorted by distinct node names')
    }
    entries.push({node, counter})
  }
  return entries
}

function readNodeName(reader: ByteReader): string {
  const bytes = reader.raw(reader.u16('node name size'), 'node name')
  if (bytes.length === 0) reader.fail('empty node name')
  let name: string
  try {
    name = utf8.decode(bytes)
  } catch {
    reader.fail('node name is not UTF-8')
  }
  // A lone surrogate survives decoding differently than it encodes; require a round trip.
  if (!Buffer.from(name, 'utf8').equals(bytes)) reader.fail('node name is not canonical UTF-8')
  return name
}

/** The encoding of objects already encoded or decoded: the encoding is canonical, so an
 * object has exactly these bytes, and a node that receives an object and stores it
 * unchanged, or sends to its replicas what it persists, encodes nothing twice. Callers
 * treat both objects and their bytes as immutable. */
const encodings = new WeakMap<StoredObject, Uint8Array>()

export function encodeObject(object: StoredObject): Uint8Array {
  const known = encodings.get(object)
  if (known !== undefined) return known
  const bytes = encodeFresh(object)
  encodings.set(object, bytes)
  return bytes
}

function encodeFresh(object: StoredObject): Uint8Array {
  const writer = new ByteWriter(encodedSize(object))
  writer.u8(objectFormat)
  writeVersionVector(writer, object.vv)
  writer.u32(object.siblings.length)
  for (const sibling of object.siblings) writeSibling(writer, object.vv, sibling)
  return writer.bytes()
}

/** The exact length of encodeObject's bytes. */
function encodedSize(object: StoredObject): number {
  let size = 1 + 2 + 4
  for (const entry of object.vv) size += 2 + Buffer.byteLength(entry.node, 'utf8') + 8
  for (const sibling of object.siblings) size += 2 + 8 + 1 + (sibling.kind === 'value' ? 4 + sibling.value.length : 0)
  return size
}

function writeSibling(writer: ByteWriter, vv: VersionVector, sibling: Sibling): void {
  const index = vv.findIndex((entry) => entry.node === sibling.dot.node)
  assert(index >= 0, 'the object version vector names every sibling dot node')
  writer.u16(index)
  writer.u64(sibling.dot.counter)
  writer.u8(siblingKindCode[sibling.kind])
  if (sibling.kind === 'value') {
    writer.u32(sibling.value.length)
    writer.raw(sibling.value)
  }
}

/** Decodes what encodeObject wrote; anything else throws ObjectDecodeError. */
export function decodeObject(bytes: Uint8Array): StoredObject {
  const reader = new ByteReader(bytes, (problem) => {
    throw new ObjectDecodeError(problem)
  })
  const format = reader.u8('format')
  if (format !== objectFormat) reader.fail(`unknown format ${format}`)
  const vv = readVersionVector(reader)
  const count = reader.u32('sibling count')
  const siblings: Sibling[] = []
  for (let index = 0; index < count; index++) {
    const sibling = readSibling(reader, vv)
    const previous = siblings[index - 1]
    if (previous !== undefined && compareDots(previous.dot, sibling.dot) >= 0) {
      reader.fail('siblings are not sorted by distinct dots')
    }
    siblings.push(sibling)
  }
  reader.end()
  const object = {vv, siblings}
  encodings.set(object, bytes)
  return object
}

function readSibling(reader: ByteReader, vv: VersionVector): Sibling {
  const entry = vv[reader.u16('sibling node index')]
  if (entry === undefined) reader.fail('a sibling names a node outside the version vector')
  const dot = {node: entry.node, counter: reader.u64('sibling counter')}
  if (!isValidCounter(dot.counter) || dot.counter > entry.counter) {
    reader.fail(`sibling dot ${dot.node}:${dot.counter} is not covered by the version vector`)
  }
  const kind = reader.u8('sibling kind')
  if (kind === siblingKindCode.tombstone) return {kind: 'tombstone', dot}
  if (kind !== siblingKindCode.value) reader.fail(`unknown sibling kind ${kind}`)
  return {kind: 'value', dot, value: reader.raw(reader.u32('value size'), 'value')}
}

/** How many siblings an encoded object has and how many of them are values. */
export interface SiblingCounts {
  readonly siblings: number
  readonly values: number
}

/**
 * The sibling counts of an encoded object, read by walking its framing without decoding
 * it (no allocation per field): what a node needs to know at start of every key (is it
 * tombstones only, is it in conflict) without decoding every object. It checks framing
 * only: undefined when the bytes cannot be an encoding of format 1; for every encoding
 * that decodeObject accepts, the counts of the decoded object.
 */
export function siblingCounts(bytes: Uint8Array): SiblingCounts | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const end = bytes.byteLength
  if (end < 3 || view.getUint8(0) !== objectFormat) return undefined
  const entries = view.getUint16(1)
  let at = 3
  for (let index = 0; index < entries; index++) {
    if (at + 2 > end) return undefined
    at += 2 + view.getUint16(at) + 8
  }
  if (at + 4 > end) return undefined
  const siblings = view.getUint32(at)
  at += 4
  let values = 0
  for (let index = 0; index < siblings; index++) {
    if (at + 11 > end) return undefined
    const kind = view.getUint8(at + 10)
    at += 11
    if (kind === siblingKindCode.tombstone) continue
    if (kind !== siblingKindCode.value || at + 4 > end) return undefined
    at += 4 + view.getUint32(at)
    values++
  }
  return at === end ? {siblings, values} : undefined
}

/** Bytes of a version digest (MD5). */
export const versionDigestBytes = 16

/** MD5 of the canonical encoding: equal objects, equal digests. The Merkle tree combines it
 * with the key; MD5 suffices because this detects divergence, it does not authenticate. */
export function versionDigest(object: StoredObject): Uint8Array {
  return new Uint8Array(hash('md5', encodeObject(object), 'buffer'))
}
