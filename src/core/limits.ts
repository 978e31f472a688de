// Every limit of the system, named, with why it is what it is (DESIGN §1.4).
import {DynError, exitCodes} from './errors.js'

const KiB = 1024
const MiB = 1024 * KiB

/** Keys are identifiers, not payload; 1 KiB keeps the in-memory keydir small (Bitcask
 * holds every key in RAM) and matches Dynamo's and Riak's practice. */
export const keyBytesMax = 1 * KiB

/** Default value limit. Dynamo targets objects under 1 MB; larger values turn every
 * replica write, read repair and handoff into a bulk transfer. Configurable per node. */
export const valueBytesMaxDefault = 1 * MiB

/** Largest wire frame. A frame carries at most one value plus its siblings' metadata, so
 * this bounds the memory a single peer can make a node allocate before it is refused. */
export const frameBytesMax = 16 * MiB

/** Room in a frame for everything besides one value (key, context, envelope). */
export const frameOverheadBytesMax = 64 * KiB

/** Highest configurable value limit: a value must still fit in one frame. */
export const valueBytesMaxCeiling = frameBytesMax - frameOverheadBytesMax

export class KeyTooLargeError extends DynError {
  constructor(keyBytes: number) {
    super(`key is ${keyBytes} bytes; the limit is ${keyBytesMax} bytes`, {
      code: 'KEY_TOO_LARGE',
      exitCode: exitCodes.usage,
      suggestion: 'use a shorter key, for example a hash of the long one',
    })
  }
}

export class KeyEmptyError extends DynError {
  constructor() {
    super('key is empty', {code: 'KEY_EMPTY', exitCode: exitCodes.usage, suggestion: 'give a key of at least one byte'})
  }
}

export class ValueTooLargeError extends DynError {
  constructor(valueBytes: number, valueBytesMax: number) {
    super(`value is ${valueBytes} bytes; the limit is ${valueBytesMax} bytes`, {
      code: 'VALUE_TOO_LARGE',
      exitCode: exitCodes.usage,
      suggestion:
        `split the value, store it elsewhere and keep a reference, or raise the node's value limit ` +
        `(at most ${valueBytesMaxCeiling} bytes)`,
    })
  }
}

export function checkKey(key: Uint8Array): void {
  if (key.length === 0) throw new KeyEmptyError()
  if (key.length > keyBytesMax) throw new KeyTooLargeError(key.length)
}

export function checkValue(value: Uint8Array, valueBytesMax: number = valueBytesMaxDefault): void {
  if (value.length > valueBytesMax) throw new ValueTooLargeError(value.length, valueBytesMax)
}

/** A put that leaves more siblings than this succeeds with a warning. Riak's default
 * (`object.siblings.warning_threshold`): past a few dozen, siblings mean a client writes
 * blindly or with stale contexts, and every read carries all of them. */
export const siblingsWarn = 25

/** A coordinator refuses a put that would leave more siblings than this. Riak's default
 * (`object.siblings.maximum`): each read returns every sibling, so an unbounded count makes
 * reads and repair grow without limit. Replica sync never refuses: it must not drop
 * acknowledged writes, so only the coordinator's put enforces this. */
export const siblingsMax = 100

/** Longest context token accepted from a client. A version vector has one entry per node
 * that ever coordinated a write to the key; 8 KiB of base64url holds about 6 KiB, room for
 * hundreds of entries with long node names, while bounding what untrusted input allocates. */
export const contextTokenCharsMax = 8 * KiB
