import {describe, expect, it} from 'vitest'
import fc from 'fast-check'
import {hashKey, partitionOfKey, partitionOfPosition, partitionStartHex, positionHex} from '../../src/core/hash.js'

// Model: the position as a 128-bit BigInt, the partition as its top k bits.
function modelPartition(key: Uint8Array, q: number): number {
  const position = BigInt(`0x${positionHex(hashKey(key))}`)
  const bits = BigInt(Math.log2(q))
  return Number(position >> (128n - bits))
}

const partitionCounts = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]

describe('hash', () => {
  it('is MD5 (RFC 1321 test vectors)', () => {
    expect(positionHex(hashKey(''))).toBe('d41d8cd98f00b204e9800998ecf8427e')
    expect(positionHex(hashKey('abc'))).toBe('900150983cd24fb0d6963f7d28e17f72')
    expect(positionHex(hashKey(new TextEncoder().encode('message digest')))).toBe('f96b697d7cb7938d525a2f31aaf161d0')
  })

  it('hashes a string as its UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({unit: 'grapheme'}), (key) => {
        expect(positionHex(hashKey(key))).toBe(positionHex(hashKey(new TextEncoder().encode(key))))
      }),
      {numRuns: 200},
    )
  })

  it('gives the top k bits of the 128-bit position as the partition', () => {
    fc.assert(
      fc.property(fc.uint8Array({minLength: 1, maxLength: 64}), fc.constantFrom(...partitionCounts), (key, q) => {
        expect(partitionOfKey(key, q)).toBe(modelPartition(key, q))
      }),
      {numRuns: 500},
    )
  })

  it('places each partition start inside that partition', () => {
    fc.assert(
      fc.property(fc.constantFrom(...partitionCounts), fc.nat(), (q, seed) => {
        const partition = seed % q
        const hex = partitionStartHex(partition, q)
        expect(hex).toHaveLength(32)
        expect(partitionOfPosition(Buffer.from(hex, 'hex'), q)).toBe(partition)
        expect(BigInt(`0x${hex}`)).toBe((BigInt(partition) << 128n) / BigInt(q))
      }),
      {numRuns: 200},
    )
  })
})
