// The context token clients carry between a read and the write that follows it (DESIGN §3):
// the version vector of what they read, opaque and URL-safe. A token is checked before it is
// used, because a wrong context silently drops siblings: a mangled one could cover writes the
// client never saw, and one from another cluster names nodes (n1, n2, ...) that exist here too.
//
// Token = base64url (no padding) of:
//   u8  format (1)
//   4 bytes cluster tag: SHA-256("dyn context\0" + cluster name), first 4 bytes
//   version vector as in stored objects (codec.ts)
//   4 bytes checksum: SHA-256 of everything before it, first 4 bytes
// Four bytes of each catch corruption and a foreign cluster with odds of 2^-32 of a miss.
import {Buffer} from 'node:buffer'
import {createHash, hash} from 'node:crypto'
import {DynError, exitCodes} from '../errors.js'
import {contextTokenCharsMax} from '../limits.js'
import {ByteReader, ByteWriter, readVersionVector, writeVersionVector} from './codec.js'
import type {VersionVector} from './version-vector.js'

export const contextFormat = 1

const clusterTagBytes = 4
const checksumBytes = 4
const headerBytes = 1 + clusterTagBytes
const base64urlPattern = /^[A-Za-z0-9_-]*$/

export interface ContextOptions {
  /** Name of the cluster the context belongs to. */
  readonly cluster: string
}

const rereadSuggestion = 'read the key again (`dyn get KEY`) and write with the context that read returns'

export class ContextInvalidError extends DynError {
  constructor(problem: string) {
    super(`the context is not valid: ${problem}`, {
      code: 'CONTEXT_INVALID',
      exitCode: exitCodes.usage,
      suggestion: `${rereadSuggestion}; pass it whole, exactly as printed`,
    })
  }
}

export class ContextVersionError extends DynError {
  constructor(format: number) {
    super(`the context has format ${format}; this program reads format ${contextFormat}`, {
      code: 'CONTEXT_VERSION',
      exitCode: exitCodes.usage,
      suggestion: `${rereadSuggestion} with this version of dyn`,
    })
  }
}

export class ContextClusterError extends DynError {
  constructor(cluster: string) {
    super(`the context belongs to another cluster, not to "${cluster}"`, {
      code: 'CONTEXT_WRONG_CLUSTER',
      exitCode: exitCodes.usage,
      suggestion: `${rereadSuggestion} from cluster "${cluster}"; contexts do not carry over between clusters`,
    })
  }
}

/** Tags by cluster name: a node serves one cluster, so this holds one or two entries; the
 * bound keeps a client that talks to many clusters from growing it without end. */
const clusterTags = new Map<string, Uint8Array>()
const clusterTagsMax = 64

function clusterTag(cluster: string): Uint8Array {
  const known = clusterTags.get(cluster)
  if (known !== undefined) return known
  const tag = createHash('sha256').update('dyn context\0').update(cluster, 'utf8').digest().subarray(0, clusterTagBytes)
  if (clusterTags.size >= clusterTagsMax) clusterTags.clear()
  clusterTags.set(cluster, tag)
  return tag
}

function checksumOf(bytes: Uint8Array): Uint8Array {
  return hash('sha256', bytes, 'buffer').subarray(0, checksumBytes)
}

export function encodeContext(vv: VersionVector, options: ContextOptions): string {
  const writer = new ByteWriter()
  writer.u8(contextFormat)
  writer.raw(clusterTag(options.cluster))
  writeVersionVector(writer, vv)
  const body = writer.bytes()
  return Buffer.concat([body, checksumOf(body)]).toString('base64url')
}

/** Reads a token written by encodeContext for the same cluster; throws ContextInvalidError,
 * ContextVersionError or ContextClusterError otherwise. */
export function decodeContext(token: string, options: ContextOptions): VersionVector {
  const bytes = tokenBytes(token)
  if (bytes.length < headerBytes + checksumBytes) throw new ContextInvalidError('it is too short (truncated?)')
  const format = bytes[0]!
  if (format !== contextFormat) throw new ContextVersionError(format)
  const body = bytes.subarray(0, bytes.length - checksumBytes)
  if (!Buffer.from(checksumOf(body)).equals(bytes.subarray(body.length))) {
    throw new ContextInvalidError('its checksum does not match (mangled or truncated?)')
  }
  if (!Buffer.from(clusterTag(options.cluster)).equals(body.subarray(1, headerBytes))) {
    throw new ContextClusterError(options.cluster)
  }
  const reader = new ByteReader(body.subarray(headerBytes), (problem) => {
    throw new ContextInvalidError(problem)
  })
  const vv = readVersionVector(reader)
  reader.end()
  return vv
}

function tokenBytes(token: string): Buffer {
  if (token.length === 0) throw new ContextInvalidError('it is empty')
  if (token.length > contextTokenCharsMax) {
    throw new ContextInvalidError(`it is ${token.length} characters; the limit is ${contextTokenCharsMax}`)
  }
  if (!base64urlPattern.test(token)) throw new ContextInvalidError('it has characters outside base64url (A-Z a-z 0-9 - _)')
  const bytes = Buffer.from(token, 'base64url')
  // Base64 ignores stray trailing bits; a token that does not re-encode to itself was altered.
  if (bytes.toString('base64url') !== token) throw new ContextInvalidError('it is not canonical base64url (truncated?)')
  return bytes
}
