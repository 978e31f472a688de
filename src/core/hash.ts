// Key hashing: Dynamo §4.2 ("Dynamo applies a MD5 hash on the key to generate a 128-bit
// identifier, which is used to determine the storage nodes"). A position is the 16-byte
// big-endian MD5 digest, read as an unsigned 128-bit number on a ring of size 2^128.
//
// The ring is cut into Q = 2^k equal partitions (Dynamo §6.2, strategy 3), so the partition
// of a position is its top k bits. Q is at most 4096 (k <= 12), so the top 32 bits of the
// digest hold the answer: the hot path reads one 32-bit word and shifts, with no BigInt.
import {hash} from 'node:crypto'
import {Buffer} from 'node:buffer'
import {assert} from './errors.js'

/** Bytes in a ring position: MD5 gives 128 bits. */
export const positionBytes = 16

/** A ring position: 16 bytes, big-endian, as MD5 returns them. */
export type RingPosition = Uint8Array

/** The key's ring position: MD5 of its bytes (a string is hashed as UTF-8). */
export function hashKey(key: Uint8Array | string): RingPosition {
  // One-shot `hash` (Node >= 20.12) skips the Hash object that createHash allocates.
  return hash('md5', key, 'buffer')
}

/** A position as 32 lowercase hex digits, the form shown to people and printed in JSON. */
export function positionHex(position: RingPosition): string {
  assert(position.length === positionBytes, `a ring position has ${positionBytes} bytes`)
  return Buffer.from(position.buffer, position.byteOffset, position.byteLength).toString('hex')
}

/** k such that q = 2^k. Q is validated where it enters (ring creation); here it is asserted. */
export function partitionBits(q: number): number {
  assert(Number.isInteger(q) && q >= 2 && q <= 2 ** 31 && (q & (q - 1)) === 0, `partition count ${q} is a power of two`)
  return 31 - Math.clz32(q)
}

/** The partition (0 .. q-1) holding a position: its top log2(q) bits. */
export function partitionOfPosition(position: RingPosition, q: number): number {
  assert(position.length === positionBytes, `a ring position has ${positionBytes} bytes`)
  const top32 = ((position[0]! << 24) | (position[1]! << 16) | (position[2]! << 8) | position[3]!) >>> 0
  return top32 >>> (32 - partitionBits(q))
}

/** The partition of a key: `partitionOfPosition(hashKey(key), q)`. */
export function partitionOfKey(key: Uint8Array | string, q: number): number {
  return partitionOfPosition(hashKey(key), q)
}

/** The first position of a partition, as 32 hex digits (partition p covers [p, p+1) * 2^128 / q). */
export function partitionStartHex(partition: number, q: number): string {
  const bits = partitionBits(q)
  assert(Number.isInteger(partition) && partition >= 0 && partition < q, `partition ${partition} is in 0..${q - 1}`)
  const top32 = (partition << (32 - bits)) >>> 0
  return top32.toString(16).padStart(8, '0') + '0'.repeat(24)
}
