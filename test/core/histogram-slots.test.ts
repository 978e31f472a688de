// Histogram.slots (core/histogram.ts): the recorded values slot by slot, for the latency
// chart of `dyn bench --html`.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {Histogram} from '../../src/core/histogram.js'

describe('Histogram.slots', () => {
  it('lists each non-empty slot once, in increasing order, at its highest equivalent value, counts summing to the count (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({min: 0, max: 2_000_000}), {maxLength: 300}), (values) => {
        const histogram = new Histogram({highestTrackableValue: 1_000_000})
        for (const value of values) histogram.record(value)
        const slots = [...histogram.slots()]
        expect(slots.reduce((total, slot) => total + slot.count, 0)).toBe(values.length)
        for (let index = 1; index < slots.length; index++) expect(slots[index]!.value).toBeGreaterThan(slots[index - 1]!.value)
        const expected = new Map<number, number>()
        for (const value of values) {
          const slot = histogram.highestEquivalentValue(Math.min(value, histogram.highestTrackableValue))
          expected.set(slot, (expected.get(slot) ?? 0) + 1)
        }
        expect(slots.map((slot) => [slot.value, slot.count])).toEqual([...expected].sort(([a], [b]) => a - b))
      }),
      {numRuns: 100},
    )
  })
})
