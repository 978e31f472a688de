// Rendering shared by the commands: value display, JSON shapes, readable contexts, tables.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {encodeContext} from '../../src/core/causality.js'
import type {GetQuorumDetails, PutQuorumDetails} from '../../src/core/quorum.js'
import {createRing} from '../../src/core/ring.js'
import {displayValue, getJson, getText, putJson, putText, quorumJson, readableContext, ringJson, ringKeyJson, valueJson} from '../../src/render/index.js'

const getQuorum: GetQuorumDetails = {
  op: 'get',
  coordinator: 'n1',
  n: 3,
  r: 2,
  ok: true,
  replies: [
    {node: 'n1', status: 'ok', ms: 1.23456},
    {node: 'n4', status: 'notFound', ms: 2, fallbackFor: 'n2'},
    {node: 'n3', status: 'timeout', ms: 2000},
  ],
  pending: [],
  readRepair: ['n4'],
}

describe('value display', () => {
  it('shows printable UTF-8 as text and anything else as marked base64, losslessly', () => {
    expect(displayValue(Buffer.from('héllo\nwörld\t!'))).toEqual({kind: 'text', text: 'héllo\nwörld\t!'})
    expect(displayValue(Buffer.from([0xff, 0xfe]))).toEqual({kind: 'base64', base64: '//4='})
    expect(displayValue(Buffer.from('a\u0000b'))).toEqual({kind: 'base64', base64: Buffer.from('a\u0000b').toString('base64')})
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 64}), (bytes) => {
        const shown = valueJson(bytes)
        const back = 'value' in shown ? Buffer.from(shown.value, 'utf8') : Buffer.from(shown.valueBase64, 'base64')
        expect(back.equals(Buffer.from(bytes))).toBe(true)
      }),
      {numRuns: 300},
    )
  })
})

describe('JSON shapes', () => {
  it('get: version, key, found, siblings with value or valueBase64 and dot, context, quorum', () => {
    const context = encodeContext([{node: 'n1', counter: 4}, {node: 'n3', counter: 2}], {cluster: 'dyn'})
    const shape = getJson({
      key: 'k',
      found: true,
      siblings: [
        {value: Buffer.from('a'), dot: {node: 'n1', counter: 4}},
        {value: Buffer.from([0xff]), dot: {node: 'n3', counter: 2}},
      ],
      context,
      quorum: getQuorum,
      clock: readableContext(context, 'dyn'),
    })
    expect(shape).toEqual({
      version: 1,
      key: 'k',
      found: true,
      siblings: [
        {value: 'a', dot: {node: 'n1', counter: 4}},
        {valueBase64: '/w==', dot: {node: 'n3', counter: 2}},
      ],
      context,
      clock: 'n1:4, n3:2',
      quorum: {
        coordinator: 'n1',
        n: 3,
        r: 2,
        ok: true,
        replies: [
          {node: 'n1', status: 'ok', ms: 1.235},
          {node: 'n4', status: 'notFound', ms: 2, fallbackFor: 'n2'},
          {node: 'n3', status: 'timeout', ms: 2000},
        ],
        pending: [],
        readRepair: ['n4'],
      },
    })
  })

  it('put: w instead of r, no readRepair', () => {
    const quorum: PutQuorumDetails = {op: 'put', coordinator: 'n2', n: 3, w: 2, ok: true, replies: [{node: 'n2', status: 'ok', ms: 1}], pending: ['n3']}
    expect(quorumJson(quorum)).toEqual({coordinator: 'n2', n: 3, w: 2, ok: true, replies: [{node: 'n2', status: 'ok', ms: 1}], pending: ['n3']})
    expect(putJson({key: 'k', context: 'T', dot: {node: 'n2', counter: 1}, siblings: 2, quorum})).toMatchObject({version: 1, key: 'k', context: 'T', dot: {node: 'n2', counter: 1}, siblings: 2})
    expect(putText({key: 'k', verb: 'stored', context: 'T', dot: {node: 'n2', counter: 1}, siblings: 2, quorum}, {color: false})).toContain('the key now has 2 siblings')
    expect(putText({key: 'k', verb: 'stored', context: 'T', dot: {node: 'n2', counter: 1}, siblings: 1, quorum}, {color: false})).not.toContain('siblings')
  })

  it('ring and ring --key', () => {
    const ring = createRing({partitionCount: 8, replicas: 2, nodes: [{name: 'a'}, {name: 'b'}]})
    const shape = ringJson({ring, n: 2, addresses: [{name: 'a', address: 'h:1'}]})
    expect(shape).toMatchObject({version: 1, ringVersion: 1, partitions: 8, n: 2, owners: ring.owners})
    expect(shape.nodes).toEqual([
      {name: 'a', address: 'h:1', weight: 1, partitions: 4, target: 4},
      {name: 'b', address: null, weight: 1, partitions: 4, target: 4},
    ])
    expect(ringKeyJson({key: 'k', hash: 'ab', partition: 3, preferenceList: ['a', 'b'], fallbacks: []})).toEqual({
      version: 1,
      key: 'k',
      hash: 'ab',
      partition: 3,
      preferenceList: ['a', 'b'],
      fallbacks: [],
    })
  })
})

describe('text', () => {
  it('shows siblings, the readable clock, each replica with its fallback and the read repair', () => {
    const context = encodeContext([{node: 'n1', counter: 4}], {cluster: 'dyn'})
    const text = getText(
      {key: 'k', found: true, siblings: [{value: Buffer.from('v1'), dot: {node: 'n1', counter: 4}}], context, quorum: getQuorum, clock: 'n1:4'},
      {color: false},
    )
    expect(text).toContain('v1')
    expect(text).toContain(`context: ${context}`)
    expect(text).toContain('clock: n1:4')
    expect(text).toMatch(/n4\s+│ notFound\s+│ 2\.0 ms\s+│ n2/)
    expect(text).toContain('read repair: sent to n4')
    expect(text).not.toContain('\u001b[')
  })
})
