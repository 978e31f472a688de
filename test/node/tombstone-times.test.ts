// The document of tombstone first-seen times (src/node/tombstone-times.ts): what is written
// reads back, anything malformed reads as no document, and downtime comes from the wall
// clock only when it went forward.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {decodeTombstoneTimes, encodeTombstoneTimes, heldAtStartMs} from '../../src/node/tombstone-times.js'

const entryArb = fc.record({
  name: fc.string({unit: fc.integer({min: 0, max: 255}).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 40}),
  digest: fc.uint8Array({minLength: 16, maxLength: 16}),
  heldMs: fc.double({min: 0, max: 1e12, noNaN: true}),
})

describe('tombstone times', () => {
  it('reads back what it wrote, and reads any cut or altered length as no document', () => {
    fc.assert(
      fc.property(fc.array(entryArb, {maxLength: 8}), fc.oneof(fc.constant(Number.NaN), fc.double({min: 0, max: 2e12, noNaN: true})), (entries, writtenWallMs) => {
        const bytes = encodeTombstoneTimes({writtenWallMs, entries})
        const decoded = decodeTombstoneTimes(bytes)
        expect(decoded?.entries).toEqual(entries)
        expect(Object.is(decoded?.writtenWallMs, writtenWallMs)).toBe(true)
        for (let cut = 0; cut < bytes.length; cut++) expect(decodeTombstoneTimes(bytes.subarray(0, cut))).toBeUndefined()
        expect(decodeTombstoneTimes(Uint8Array.of(...bytes, 0))).toBeUndefined()
      }),
      {numRuns: 50},
    )
  })

  it('adds the downtime the wall clock shows, none when it went back or is unknown', () => {
    expect(heldAtStartMs(1_000, 5_000, 8_000)).toBe(4_000)
    expect(heldAtStartMs(1_000, 5_000, 4_000)).toBe(1_000)
    expect(heldAtStartMs(1_000, Number.NaN, 8_000)).toBe(1_000)
    expect(heldAtStartMs(1_000, 5_000, Number.NaN)).toBe(1_000)
  })
})
