// The kv.conflicts request as it arrives from the wire: accepted within its limits, refused
// with BAD_REQUEST and a message naming the field otherwise.
import {describe, expect, it} from 'vitest'
import type {DynError} from '../../src/core/errors.js'
import {keyBytesMax} from '../../src/core/limits.js'
import {BadRequestError, clientMessageTypes, conflictsPageMax, isMessageType, messageTypes, parseRequest} from '../../src/core/protocol.js'

function refusal(payload: unknown): DynError {
  try {
    parseRequest('kv.conflicts', payload)
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError)
    return error as DynError
  }
  throw new Error(`accepted ${JSON.stringify(payload)}`)
}

describe('kv.conflicts requests', () => {
  it('is a client message type the daemon serves', () => {
    expect(isMessageType('kv.conflicts')).toBe(true)
    expect(messageTypes).toContain('kv.conflicts')
    expect(clientMessageTypes).toContain('kv.conflicts')
  })

  it('accepts a limit from 1 to the page maximum, with or without a key to start after', () => {
    expect(parseRequest('kv.conflicts', {limit: 1})).toEqual({limit: 1})
    expect(parseRequest('kv.conflicts', {limit: conflictsPageMax, after: null})).toEqual({limit: conflictsPageMax})
    const after = new Uint8Array(keyBytesMax).fill(0xff)
    expect(parseRequest('kv.conflicts', {limit: 7, after})).toEqual({limit: 7, after})
  })

  it('refuses a missing or out-of-range limit and a malformed cursor key, naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /limit is missing/],
      [{limit: 0}, new RegExp(`limit must be from 1 to ${conflictsPageMax}, not 0`)],
      [{limit: conflictsPageMax + 1}, new RegExp(`limit must be from 1 to ${conflictsPageMax}`)],
      [{limit: 2.5}, /limit must be a whole number/],
      [{limit: '10'}, /limit must be a whole number/],
      [{limit: 10, after: 'k1'}, /after must be bytes/],
      [{limit: 10, after: new Uint8Array(keyBytesMax + 1)}, new RegExp(`after is ${keyBytesMax + 1} bytes; a key has at most ${keyBytesMax}`)],
      [[10], /payload is not a map/],
    ]
    for (const [payload, message] of cases) {
      const error = refusal(payload)
      expect(error.code).toBe('BAD_REQUEST')
      expect(error.message).toMatch(/^malformed kv\.conflicts request: /)
      expect(error.message).toMatch(message)
    }
  })
})
