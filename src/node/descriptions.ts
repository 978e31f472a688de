// What a node needs to know of a stored object to index it (objects.ts), in 37 bytes that
// the log store keeps in its hint files for every value record (store/hint.ts, a
// RecordDescriber), so that a node indexes a partition at start without reading or
// decoding a single value:
//
//   0       16           32             36
//   +-------+------------+--------------+-------+
//   | digest| entry hash | segment bits | flags |
//   | MD5   |   MD5      |   u32 BE     |  u8   |
//   +-------+------------+--------------+-------+
//
//   digest        version digest: MD5 of the stored bytes (objects.ts)
//   entry hash    the key's contribution to its Merkle segment, merkle.entryHash(key, digest)
//   segment bits  merkle.segmentBits(key): any tree shape takes its segment from them
//   flags         tombstones only / in conflict (conflicts.ts) / not a well-framed object
//
// A description is a pure function of the key and the stored bytes, so a hint written by
// one node start is valid for the next; `describerId` changes whenever the layout or a
// definition here does, and the store then rebuilds its hints from the data files.
import {Buffer} from 'node:buffer'
import {hash} from 'node:crypto'
import {siblingCounts} from '../core/causality.js'
import {entryHash, segmentBits} from '../core/merkle.js'

export const descriptionBytes = 37
/** "OBD1": layout 1 above. */
export const describerId = 0x3144424f

export const entryHashAt = 16
export const segmentBitsAt = 32
export const flagsAt = 36

/** Every sibling a tombstone (objects.ts isTombstoneOnly). */
export const flagTombstoneOnly = 1
/** More than one sibling, one of them a value (conflicts.ts isConflicted). */
export const flagConflicted = 2
/** The bytes are not a well-framed object: the node decodes them to find out (and fails). */
export const flagUnframed = 4

/** The version digest of stored bytes: MD5 of the canonical encoding (objects.ts). */
export function digestOf(encoded: Uint8Array): Uint8Array {
  return new Uint8Array(hash('md5', encoded, 'buffer'))
}

export function describeObject(key: Uint8Array, encoded: Uint8Array): Buffer {
  const description = Buffer.allocUnsafe(descriptionBytes)
  const digest = digestOf(encoded)
  description.set(digest, 0)
  description.set(entryHash(key, digest), entryHashAt)
  description.writeUInt32BE(segmentBits(key), segmentBitsAt)
  const counts = siblingCounts(encoded)
  let flags = 0
  if (counts === undefined) flags = flagUnframed
  else if (counts.siblings > 0 && counts.values === 0) flags = flagTombstoneOnly
  else if (counts.siblings > 1 && counts.values > 0) flags = flagConflicted
  description[flagsAt] = flags
  return description
}

/** The store's RecordDescriber (store/hint.ts) for hint files of object partitions. */
export const objectDescriber = {
  id: describerId,
  bytes: descriptionBytes,
  describe: (key: Buffer, value: Buffer): Uint8Array => describeObject(key, value),
} as const
