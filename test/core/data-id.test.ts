// Member records carry the id of the node's data directory (node/identity.ts). Merging
// views must stay a join with it: commutative, associative, idempotent; and a node's
// announcement of a new id must win over every record its peers hold of it.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {announceDataId, buildView, createView, findMember, mergeViews, type Member, type View} from '../../src/core/membership.js'
import {viewFromJson, viewToJson} from '../../src/node/gossip.js'

const base = createView({partitionCount: 8, replicas: 1, members: [{name: 'n1', address: 'a:1'}]})

const memberArbitrary: fc.Arbitrary<Member> = fc.record(
  {
    name: fc.constant('n1'),
    address: fc.constantFrom('a:1', 'a:2'),
    weight: fc.integer({min: 1, max: 2}),
    status: fc.constantFrom('joining' as const, 'valid' as const, 'leaving' as const, 'left' as const),
    incarnation: fc.integer({min: 1, max: 4}),
    dataId: fc.constantFrom('0a', '0b', 'ff'),
    dataVersion: fc.integer({min: 1, max: 3}),
  },
  {requiredKeys: ['name', 'address', 'weight', 'status', 'incarnation']},
)

const viewOf = (member: Member): View => buildView({...base, records: [member]})

describe('data directory ids in member records', () => {
  it('merge stays commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(memberArbitrary, memberArbitrary, memberArbitrary, (x, y, z) => {
        const [a, b, c] = [viewOf(x), viewOf(y), viewOf(z)]
        expect(mergeViews(a, b)).toEqual(mergeViews(b, a))
        expect(mergeViews(mergeViews(a, b), c)).toEqual(mergeViews(a, mergeViews(b, c)))
        expect(mergeViews(a, a)).toEqual(a)
      }),
    )
  })

  it('an announcement wins over every record the announcing node had merged, and keeps its incarnation', () => {
    fc.assert(
      fc.property(fc.array(memberArbitrary, {minLength: 1, maxLength: 5}), fc.constantFrom('0a', '0b', 'ff', '10'), (records, id) => {
        const known = records.map(viewOf).reduce(mergeViews)
        const announced = announceDataId(known, 'n1', id)
        for (const record of records) expect(findMember(mergeViews(viewOf(record), announced), 'n1')?.dataId).toBe(id)
        expect(findMember(announced, 'n1')?.incarnation).toBe(findMember(known, 'n1')?.incarnation)
      }),
    )
  })

  it('survives gossip and the persisted view', () => {
    fc.assert(
      fc.property(memberArbitrary, (member) => {
        const view = viewOf(member)
        expect(viewFromJson(viewToJson(view), 'n1')).toEqual(view)
      }),
    )
  })
})
