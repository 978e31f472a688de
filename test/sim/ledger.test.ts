// The dot ledger's record of where each dot is known, which decides the one loss the
// checker excuses: the last store that knew an acknowledged dot forgot it in a crash.
import {AsyncLocalStorage} from 'node:async_hooks'
import {Buffer} from 'node:buffer'
import {describe, expect, it} from 'vitest'
import {applyPut, encodeObject, emptyVersionVector, versionVector} from '../../src/core/causality.js'
import {DotLedger, Scheduler, Trace} from '../../src/sim/index.js'

const key = Buffer.from('k')
const write = (value: string) => ({kind: 'value' as const, value: Buffer.from(value)})

function ledger(): DotLedger {
  return new DotLedger(new AsyncLocalStorage<number>(), new Trace(new Scheduler()))
}

describe('DotLedger', () => {
  const first = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: write('a'), counter: 1}).object

  it('records a crash as the way a dot was lost when the crashed store was the last to know it', () => {
    const dots = ledger()
    dots.observe('n1', key, encodeObject(first))
    dots.observeCrash('n1', [{key}], [])
    expect(dots.vanished('k', {node: 'n1', counter: 1})?.cause).toBe('crash')
    expect(dots.lostInCrashes()).toBe(1)
  })

  it('does not count a crash while another store still holds the dot', () => {
    const dots = ledger()
    dots.observe('n1', key, encodeObject(first))
    dots.observe('n2', key, encodeObject(first))
    dots.observeCrash('n1', [{key}], [])
    expect(dots.vanished('k', {node: 'n1', counter: 1})).toBeUndefined()
    dots.observeDelete('n2', key)
    expect(dots.vanished('k', {node: 'n1', counter: 1})?.cause).toBe('delete')
  })

  it('keeps a lost dot lost when a version vector later covers it, until a store holds it again', () => {
    const dots = ledger()
    dots.observe('n1', key, encodeObject(first))
    dots.observeCrash('n1', [{key}], [])
    const covering = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: write('b'), counter: 5}).object
    dots.observe('n1', key, encodeObject(covering))
    expect(dots.vanished('k', {node: 'n1', counter: 1})?.cause).toBe('crash')
    dots.observe('n2', key, encodeObject(first))
    expect(dots.vanished('k', {node: 'n1', counter: 1})).toBeUndefined()
  })

  it('reports a store that drops a sibling its new copy does not cover', () => {
    const dots = ledger()
    dots.observe('n1', key, encodeObject(first))
    const unrelated = applyPut(undefined, {coordinator: 'n2', context: versionVector({n2: 3}), write: write('c'), counter: 4}).object
    dots.observe('n1', key, encodeObject(unrelated))
    expect(dots.problems.map((problem) => problem.invariant)).toContain('a replica drops only covered siblings')
  })
})
