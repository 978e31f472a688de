// The write combiner against a model: per key, the durable state must always be what
// applying the acknowledged changes one by one in arrival order gives; every acknowledged
// change is in it; refused and failed changes are not; exclusive tasks never overlap a
// persist; and changes queued behind a persist share the next one.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {WriteCombiner, type CombineTarget} from '../../src/node/write-combiner.js'

type State = readonly number[]

type Op = {kind: 'change'; key: number; refuse: boolean; noop: boolean} | {kind: 'exclusive'; key: number}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {weight: 8, arbitrary: fc.record({kind: fc.constant('change' as const), key: fc.integer({min: 0, max: 2}), refuse: fc.integer({min: 0, max: 9}).map((n) => n < 2), noop: fc.integer({min: 0, max: 9}).map((n) => n < 2)})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('exclusive' as const), key: fc.integer({min: 0, max: 2})})},
)

describe('WriteCombiner', () => {
  it('keeps per key exactly the acknowledged changes, in arrival order, whatever the interleaving and failures', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(opArb, {minLength: 1, maxLength: 40}), fc.array(fc.boolean(), {minLength: 40, maxLength: 40}), async (s, ops, failures) => {
        const combiner = new WriteCombiner<State>()
        const durable = new Map<number, State>()
        const persisting = new Set<number>()
        let persistCalls = 0
        const target = (key: number): CombineTarget<State> => ({
          read: s.scheduleFunction(async () => durable.get(key)),
          equal: (a, b) => a.length === b.length && a.every((value, i) => value === b[i]),
          persist: async (after) => {
            const fail = failures[persistCalls++ % failures.length]!
            persisting.add(key)
            try {
              await s.schedule(Promise.resolve(), `persist ${key}`)
              if (fail) throw new Error('injected persist failure')
              durable.set(key, after)
            } finally {
              persisting.delete(key)
            }
          },
        })
        const acknowledged = new Map<number, number[]>()
        const settled: Promise<unknown>[] = []
        ops.forEach((op, id) => {
          if (op.kind === 'exclusive') {
            settled.push(
              combiner.exclusive(String(op.key), async () => {
                expect(persisting.has(op.key)).toBe(false)
                await s.schedule(Promise.resolve(), `exclusive ${op.key}`)
                expect(persisting.has(op.key)).toBe(false)
              }),
            )
            return
          }
          const seen: {after?: State | undefined} = {}
          const done = combiner
            .update(String(op.key), {
              target: target(op.key),
              change: (current) => {
                if (op.refuse) throw new Error('refused')
                return op.noop && current !== undefined ? current : [...(current ?? []), id]
              },
              computed: (result) => {
                seen.after = result.after
              },
            })
            .then((result) => {
              expect(result.after).toEqual(seen.after)
              if (result.changed) acknowledged.set(op.key, [...(acknowledged.get(op.key) ?? []), id])
              // What a change acknowledged is durable now, or covered by a later write.
              const now = durable.get(op.key) ?? []
              for (const value of result.after ?? []) expect(now).toContain(value)
            })
            .catch((error: unknown) => {
              expect(String(error)).toMatch(/refused|injected/)
            })
          settled.push(done)
        })
        await s.waitFor(Promise.all(settled))
        for (const key of [0, 1, 2]) {
          const ids = acknowledged.get(key) ?? []
          const state = durable.get(key) ?? []
          // Exactly the acknowledged changes, in arrival order: a failed batch's changes are
          // neither acknowledged nor durable, a refused or no-op change adds nothing.
          expect(state).toEqual(ids)
        }
        expect(combiner.size).toBe(0)
        expect(combiner.changesPersisted).toBeGreaterThanOrEqual(combiner.persists)
      }),
      {numRuns: 300},
    )
  })

  it('persists a burst of changes queued on one key in far fewer writes than changes', async () => {
    const combiner = new WriteCombiner<State>()
    let durable: State | undefined
    let persists = 0
    const target: CombineTarget<State> = {
      read: async () => durable,
      equal: (a, b) => a.length === b.length && a.every((value, i) => value === b[i]),
      persist: async (after) => {
        persists++
        await new Promise((resolve) => setImmediate(resolve))
        durable = after
      },
    }
    await Promise.all(Array.from({length: 100}, (_, i) => combiner.update('hot', {target, change: (current) => [...(current ?? []), i]})))
    expect(durable).toEqual(Array.from({length: 100}, (_, i) => i))
    expect(persists).toBeLessThanOrEqual(3)
    expect(combiner.changesPersisted).toBe(100)
  })
})
