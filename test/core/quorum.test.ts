import {Buffer} from 'node:buffer'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {applyPut, contextOf, emptyVersionVector, encodeObject, isFound, liveSiblings, syncObjects} from '../../src/core/causality.js'
import type {StoredObject} from '../../src/core/causality.js'
import {exitCodes} from '../../src/core/errors.js'
import {GetQuorum, PutQuorum, QuorumNotMetError, QuorumParameterError, describeQuorum} from '../../src/core/quorum.js'
import type {GetReply, PutReply, ReplicaTarget} from '../../src/core/quorum.js'

const nodes = ['n1', 'n2', 'n3', 'n4', 'n5']

/** Objects of one key as replicas would hold them: puts at random nodes with contexts of
 * earlier objects, some of them synced, some deleted. */
const objectPoolArbitrary = fc
  .array(fc.record({at: fc.nat(), base: fc.nat(), context: fc.nat(), tombstone: fc.boolean(), merge: fc.boolean()}), {
    minLength: 1,
    maxLength: 12,
  })
  .map((steps) => {
    const pool: StoredObject[] = []
    steps.forEach((step, index) => {
      const base = pool.length === 0 ? undefined : pool[step.base % pool.length]
      const context = pool.length === 0 || step.context % 3 === 0 ? emptyVersionVector : contextOf(pool[step.context % pool.length])
      const write = step.tombstone ? ({kind: 'tombstone'} as const) : ({kind: 'value', value: Uint8Array.of(index)} as const)
      const put = applyPut(base, {coordinator: nodes[step.at % 3]!, context, write}).object
      pool.push(step.merge && base !== undefined ? syncObjects(put, base) : put)
    })
    return pool
  })

type ReplyChoice = {readonly kind: 'ok'; readonly object: number} | {readonly kind: 'notFound' | 'error' | 'timeout'}

const replyChoiceArbitrary: fc.Arbitrary<ReplyChoice> = fc.oneof(
  fc.record({kind: fc.constant('ok' as const), object: fc.nat()}),
  fc.record({kind: fc.constantFrom('notFound' as const, 'error' as const, 'timeout' as const)}),
)

const scenarioArbitrary = fc
  .record({
    replicas: fc.integer({min: 0, max: nodes.length}),
    extraN: fc.nat({max: 2}),
    quorumSeed: fc.nat(),
    fallbacks: fc.array(fc.boolean(), {minLength: nodes.length, maxLength: nodes.length}),
    order: fc.shuffledSubarray(nodes.map((_, index) => index)),
    choices: fc.array(replyChoiceArbitrary, {minLength: nodes.length, maxLength: nodes.length}),
    ms: fc.array(fc.integer({min: 0, max: 5000}), {minLength: nodes.length, maxLength: nodes.length}),
    pool: objectPoolArbitrary,
  })
  .map((s) => {
    const n = Math.max(1, s.replicas + s.extraN)
    const targets: ReplicaTarget[] = nodes
      .slice(0, s.replicas)
      .map((node, index) => (s.fallbacks[index] === true ? {node, fallbackFor: `p${index}`} : {node}))
    const order = s.order.filter((index) => index < s.replicas)
    return {...s, n, quorum: 1 + (s.quorumSeed % n), targets, order}
  })

function getReply(s: {readonly choices: readonly ReplyChoice[]; readonly ms: readonly number[]; readonly pool: readonly StoredObject[]}, index: number): GetReply {
  const choice = s.choices[index]!
  const base = {node: nodes[index]!, ms: s.ms[index]!}
  switch (choice.kind) {
    case 'ok':
      return {...base, kind: 'ok', object: s.pool[choice.object % s.pool.length]!}
    case 'error':
      return {...base, kind: 'error', message: `disk full on ${base.node}`}
    case 'notFound':
    case 'timeout':
      return {...base, kind: choice.kind}
  }
}

/** The reference model: counting only. */
function modelOutcome(successes: number, outstanding: number, needed: number): 'ok' | 'failed' | 'pending' {
  if (successes >= needed) return 'ok'
  return successes + outstanding < needed ? 'failed' : 'pending'
}

const sameBytes = (a: StoredObject, b: StoredObject) => Buffer.from(encodeObject(a)).equals(encodeObject(b))

describe('GetQuorum', () => {
  it('decides exactly when counting says, merges every ok reply and names the stale replicas', () => {
    fc.assert(
      fc.property(scenarioArbitrary, (s) => {
        const quorum = new GetQuorum({key: 'k', coordinator: 'n1', n: s.n, r: s.quorum, replicas: s.targets})
        let successes = 0
        const received: GetReply[] = []
        expect(quorum.outcome()).toBe(modelOutcome(0, s.targets.length, s.quorum))
        for (const index of s.order) {
          const reply = getReply(s, index)
          expect(quorum.addReply(reply)).toBe(true)
          received.push(reply)
          if (reply.kind === 'ok' || reply.kind === 'notFound') successes++
          const expected = modelOutcome(successes, s.targets.length - received.length, s.quorum)
          expect(quorum.outcome()).toBe(expected)
          expect(quorum.isDone()).toBe(expected !== 'pending')
          checkMergeAndRepair(quorum, received)
        }
      }),
      {numRuns: 400},
    )
  })

  function checkMergeAndRepair(quorum: GetQuorum, received: readonly GetReply[]): void {
    // Model of the merge: fold the ok objects in reverse arrival order.
    const objects = received.flatMap((reply) => (reply.kind === 'ok' ? [reply.object] : [])).reverse()
    const merged = objects.reduce<StoredObject | undefined>((acc, object) => (acc === undefined ? object : syncObjects(object, acc)), undefined)
    const actual = quorum.merged()
    expect(actual === undefined).toBe(merged === undefined)
    if (merged === undefined || actual === undefined) {
      expect(quorum.repairTargets()).toEqual([])
      return
    }
    expect(sameBytes(actual, merged)).toBe(true)
    const stale = received
      .filter((reply) => reply.kind === 'notFound' || (reply.kind === 'ok' && !sameBytes(reply.object, merged)))
      .map((reply) => reply.node)
    expect([...quorum.repairTargets()].sort()).toEqual(stale.sort())
    if (quorum.isDone()) {
      const result = quorum.result()
      expect(result.found).toBe(liveSiblings(merged).length > 0)
      expect(result.siblings).toEqual(liveSiblings(merged))
      expect(result.context).toEqual(merged.vv)
    }
  }

  it('reports each reply as a JSON-able detail with fallbacks, errors and tombstones', () => {
    fc.assert(
      fc.property(scenarioArbitrary, (s) => {
        const quorum = new GetQuorum({coordinator: 'n1', n: s.n, r: s.quorum, replicas: s.targets})
        for (const index of s.order) quorum.addReply(getReply(s, index))
        const details = quorum.details()
        expect(JSON.parse(JSON.stringify(details))).toEqual(details)
        expect(details).toMatchObject({op: 'get', coordinator: 'n1', n: s.n, r: s.quorum, ok: quorum.outcome() === 'ok'})
        expect(details.readRepair).toEqual(quorum.repairTargets())
        expect(details.replies.map((reply) => reply.node)).toEqual(s.order.map((index) => nodes[index]))
        expect([...details.pending, ...details.replies.map((r) => r.node)].sort()).toEqual(s.targets.map((t) => t.node).sort())
        details.replies.forEach((detail, position) => {
          const reply = getReply(s, s.order[position]!)
          const expectedStatus = reply.kind === 'ok' ? (isFound(reply.object) ? 'ok' : 'tombstone') : reply.kind
          expect(detail.status).toBe(expectedStatus)
          expect(detail.ms).toBe(reply.ms)
          expect(detail.fallbackFor).toBe(s.targets[s.order[position]!]!.fallbackFor)
          expect(detail.error).toBe(reply.kind === 'error' ? reply.message : undefined)
        })
      }),
      {numRuns: 200},
    )
  })

  it('counts the first reply of a node only', () => {
    const quorum = new GetQuorum({coordinator: 'n1', n: 3, r: 2, replicas: [{node: 'n1'}, {node: 'n2'}, {node: 'n3'}]})
    expect(quorum.addReply({node: 'n2', kind: 'timeout', ms: 100})).toBe(true)
    expect(quorum.addReply({node: 'n2', kind: 'notFound', ms: 120})).toBe(false)
    expect(quorum.addReply({node: 'n1', kind: 'notFound', ms: 1})).toBe(true)
    expect(quorum.isDone()).toBe(false)
    expect(quorum.addReply({node: 'n3', kind: 'error', message: 'disk full', ms: 3})).toBe(true)
    expect(quorum.outcome()).toBe('failed')
    const error = quorum.error()
    expect(error).toBeInstanceOf(QuorumNotMetError)
    expect(error?.exitCode).toBe(exitCodes.quorumNotMet)
    expect(error?.message).toBe('get needed R=2 answers from 3 replicas asked, got 1 (n2: timeout, n3: disk full)')
    expect(quorum.result().ok).toBe(false)
  })

  it('reads a deleted key as not found with the tombstone context, and repairs a replica without it', () => {
    const live = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: {kind: 'value', value: Uint8Array.of(1)}}).object
    const deleted = applyPut(live, {coordinator: 'n1', context: live.vv, write: {kind: 'tombstone'}}).object
    const quorum = new GetQuorum({coordinator: 'n1', n: 3, r: 2, replicas: [{node: 'n1'}, {node: 'n2'}, {node: 'n3'}]})
    quorum.addReply({node: 'n1', kind: 'ok', object: deleted, ms: 1})
    quorum.addReply({node: 'n2', kind: 'ok', object: live, ms: 2})
    const result = quorum.result()
    expect(result).toMatchObject({ok: true, found: false, siblings: [], context: deleted.vv})
    expect(result.details.replies.map((reply) => reply.status)).toEqual(['tombstone', 'ok'])
    expect(quorum.repairTargets()).toEqual(['n2'])
    // A straggler that never saw the key is repaired too; the outcome stays decided.
    quorum.addReply({node: 'n3', kind: 'notFound', ms: 40})
    expect(quorum.repairTargets()).toEqual(['n2', 'n3'])
    expect(quorum.details({readRepair: ['n2']}).readRepair).toEqual(['n2'])
  })

  it('fails at once when fewer replicas than R could be asked', () => {
    const quorum = new GetQuorum({coordinator: 'n1', n: 3, r: 2, replicas: [{node: 'n1'}]})
    expect(quorum.outcome()).toBe('failed')
    expect(quorum.error()?.message).toBe('get needed R=2 answers from 1 replica asked, got 0')
  })
})

describe('PutQuorum', () => {
  it('decides exactly when counting says', () => {
    fc.assert(
      fc.property(scenarioArbitrary, (s) => {
        const quorum = new PutQuorum({coordinator: 'n1', n: s.n, w: s.quorum, replicas: s.targets})
        let acks = 0
        s.order.forEach((index, position) => {
          const choice = s.choices[index]!
          const base = {node: nodes[index]!, ms: s.ms[index]!}
          const reply: PutReply =
            choice.kind === 'ok' || choice.kind === 'notFound'
              ? {...base, kind: 'ok'}
              : choice.kind === 'error'
                ? {...base, kind: 'error', message: 'no space'}
                : {...base, kind: 'timeout'}
          quorum.addReply(reply)
          if (reply.kind === 'ok') acks++
          const expected = modelOutcome(acks, s.targets.length - position - 1, s.quorum)
          expect(quorum.outcome()).toBe(expected)
          expect(quorum.error() === undefined).toBe(expected !== 'failed')
        })
        const details = quorum.details()
        expect(details).toMatchObject({op: 'put', coordinator: 'n1', n: s.n, w: s.quorum})
        expect(details.replies.filter((reply) => reply.status === 'ok')).toHaveLength(acks)
      }),
      {numRuns: 300},
    )
  })
})

describe('parameters', () => {
  it('refuses R or W outside 1..N with a usage error naming the field', () => {
    const replicas = [{node: 'n1'}]
    for (const [n, r] of [[3, 0], [3, 4], [0, 1], [3, 1.5], [3, Number.NaN]] as const) {
      expect(() => new GetQuorum({coordinator: 'n1', n, r, replicas})).toThrow(QuorumParameterError)
    }
    try {
      new PutQuorum({coordinator: 'n1', n: 3, w: 5, replicas})
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(QuorumParameterError)
      expect((error as QuorumParameterError).message).toBe('w=5 is not valid: it must be a whole number between 1 and n=3')
      expect((error as QuorumParameterError).exitCode).toBe(exitCodes.usage)
    }
  })

  it('describes whether read and write quorums overlap', () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 9}), fc.nat(), fc.nat(), (n, r, w) => {
        const description = describeQuorum({n, r: 1 + (r % n), w: 1 + (w % n)})
        expect(description.overlapping).toBe(2 + (r % n) + (w % n) > n)
        expect(description.summary).toMatch(description.overlapping ? /^R \+ W > N/ : /^R \+ W <= N/)
      }),
    )
    expect(describeQuorum({n: 3, r: 2, w: 2}).summary).toContain('(2 + 2 > 3)')
  })
})
