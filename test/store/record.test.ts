// Record encoding and sync-mode parsing: round trips, and every single-byte corruption
// of a record is detected by its checksum or framing.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {InvalidStoreOptionError, LogStore, parseSyncMode} from '../../src/store/index.js'
import {
  encodeRecord,
  flagTombstone,
  flagValue,
  newParsedRecord,
  parseBad,
  parseIncomplete,
  parseOk,
  parseRecordAt,
  valueOfRecord,
} from '../../src/store/record.js'
import {withTempDir} from './helpers.js'

const keyArb = fc.uint8Array({minLength: 1, maxLength: 64})
const valueArb = fc.uint8Array({minLength: 0, maxLength: 256})

describe('record', () => {
  it('round-trips key and value', () => {
    fc.assert(
      fc.property(keyArb, valueArb, (key, value) => {
        const record = encodeRecord(flagValue, key, value)
        const out = newParsedRecord()
        expect(parseRecordAt(record, 0, record.length, out)).toBe(parseOk)
        expect(out).toEqual({flags: flagValue, keyBytes: key.length, valueBytes: value.length, size: record.length})
        expect(valueOfRecord(record, key)).toEqual(Buffer.from(value))
      }),
    )
  })

  it('detects any flipped byte', () => {
    fc.assert(
      fc.property(keyArb, valueArb, fc.nat(), fc.integer({min: 1, max: 255}), (key, value, at, mask) => {
        const record = encodeRecord(flagValue, key, value)
        const position = at % record.length
        record[position] = (record[position] ?? 0) ^ mask
        expect(parseRecordAt(record, 0, record.length, newParsedRecord())).not.toBe(parseOk)
        expect(valueOfRecord(record, key)).toBeUndefined()
      }),
    )
  })

  it('reports a cut record as incomplete and a tombstone with a value as bad', () => {
    const record = encodeRecord(flagValue, Buffer.from('k'), Buffer.from('value'))
    expect(parseRecordAt(record, 0, record.length - 1, newParsedRecord())).toBe(parseIncomplete)
    const tombstone = encodeRecord(flagTombstone, Buffer.from('k'), Buffer.from('v'))
    expect(parseRecordAt(tombstone, 0, tombstone.length, newParsedRecord())).toBe(parseBad)
  })
})

describe('sync mode', () => {
  it('parses the allowed values', () => {
    expect(parseSyncMode('always')).toEqual({kind: 'always'})
    expect(parseSyncMode('none')).toEqual({kind: 'none'})
    expect(parseSyncMode('interval:250')).toEqual({kind: 'interval', intervalMs: 250})
  })

  it('rejects anything else with an error naming the allowed values', () => {
    for (const text of ['', 'sometimes', 'interval', 'interval:', 'interval:0', 'interval:-5', 'interval:1.5', 'interval:600000', 'ALWAYS']) {
      expect(() => parseSyncMode(text)).toThrow(InvalidStoreOptionError)
      expect(() => parseSyncMode(text)).toThrow(/"always", "interval:MS" \(MS an integer from 1 to 60000\) or "none"/)
    }
  })

  it('is validated when a store opens, as are the other options', async () => {
    await withTempDir(async (dir) => {
      await expect(LogStore.open({dir, sync: 'fast'})).rejects.toMatchObject({code: 'INVALID_STORE_OPTION', message: expect.stringContaining('sync')})
      await expect(LogStore.open({dir, segmentBytesMax: 10})).rejects.toThrow(/segmentBytesMax is 10; allowed: an integer from 64/)
      await expect(LogStore.open({dir, compactionDeadRatioMin: 0})).rejects.toThrow(/compactionDeadRatioMin/)
      await expect(LogStore.open({dir: ''})).rejects.toThrow(/dir/)
    })
  })
})
