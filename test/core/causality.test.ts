import {Buffer} from 'node:buffer'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {
  ContextClusterError,
  ContextInvalidError,
  ContextVersionError,
  ObjectDecodeError,
  SiblingLimitError,
  VersionVectorSyntaxError,
  applyPut,
  assertObjectInvariants,
  compareObjects,
  compareVersionVectors,
  contextOf,
  counterOf,
  covers,
  decodeContext,
  decodeObject,
  siblingCounts,
  descends,
  emptyVersionVector,
  encodeContext,
  encodeObject,
  formatVersionVector,
  isFound,
  liveSiblings,
  mergeVersionVectors,
  objectContains,
  objectsEqual,
  parseVersionVector,
  syncAll,
  syncObjects,
  tombstoneSiblings,
  versionDigest,
  versionVector,
} from '../../src/core/causality.js'
import type {Dot, StoredObject, VersionVector, Write} from '../../src/core/causality.js'
import {DynError, exitCodes} from '../../src/core/errors.js'
import {siblingsMax, siblingsWarn} from '../../src/core/limits.js'

// ---------------------------------------------------------------------------------------------
// Histories: replicas of one key, puts at random coordinators with contexts from earlier reads,
// and syncs in random order. Objects taken from one history are realistic: each dot names one
// write, which arbitrary unrelated objects would not guarantee.

const nodeNames = ['n1', 'n2', 'n3', 'nœud-4']

type Op =
  | {readonly kind: 'put'; readonly at: number; readonly read: number; readonly tombstone: boolean}
  | {readonly kind: 'read'; readonly from: number}
  | {readonly kind: 'sync'; readonly from: number; readonly to: number}

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({kind: fc.constant('put' as const), at: fc.nat(), read: fc.nat(), tombstone: fc.boolean()}),
  fc.record({kind: fc.constant('read' as const), from: fc.nat()}),
  fc.record({kind: fc.constant('sync' as const), from: fc.nat(), to: fc.nat()}),
)

const historyArbitrary = fc.record({
  replicas: fc.integer({min: 2, max: nodeNames.length}),
  ops: fc.array(opArbitrary, {maxLength: 60}),
})

/** A write the coordinator applied (and so acknowledged). */
interface AckedWrite {
  readonly dot: Dot
  readonly context: VersionVector
  readonly write: Write
}

interface History {
  readonly replicas: (StoredObject | undefined)[]
  readonly acked: AckedWrite[]
  /** Every object any replica held at any time. */
  readonly pool: StoredObject[]
  readonly names: string[]
}

function valueOf(id: number): Uint8Array {
  return new TextEncoder().encode(`v${id}`)
}

function replay(history: {readonly replicas: number; readonly ops: readonly Op[]}, check?: (h: History) => void): History {
  const names = nodeNames.slice(0, history.replicas)
  const h: History = {replicas: names.map(() => undefined), acked: [], pool: [], names}
  const reads: VersionVector[] = []
  for (const op of history.ops) {
    applyOp(h, reads, op)
    if (check !== undefined) check(h)
  }
  return h
}

function applyOp(h: History, reads: VersionVector[], op: Op): void {
  const count = h.replicas.length
  switch (op.kind) {
    case 'read':
      reads.push(contextOf(h.replicas[op.from % count]))
      return
    case 'put': {
      const at = op.at % count
      // Index 0 of the choice is a blind write; the others are earlier reads, possibly stale.
      const choice = op.read % (reads.length + 1)
      const context = choice === 0 ? emptyVersionVector : reads[choice - 1]!
      const write: Write = op.tombstone ? {kind: 'tombstone'} : {kind: 'value', value: valueOf(h.acked.length)}
      const result = applyPut(h.replicas[at], {coordinator: h.names[at]!, context, write, siblingsMax: 10_000})
      h.acked.push({dot: result.dot, context, write})
      h.replicas[at] = result.object
      h.pool.push(result.object)
      return
    }
    case 'sync': {
      const from = h.replicas[op.from % count]
      const to = op.to % count
      const merged = syncAll([h.replicas[to], from])
      h.replicas[to] = merged
      if (merged !== undefined) h.pool.push(merged)
      return
    }
  }
}

/** The writes the contract says must survive: those no acknowledged context covers. */
function survivors(acked: readonly AckedWrite[]): AckedWrite[] {
  return acked.filter((w) => !acked.some((other) => covers(other.context, w.dot)))
}

function siblingKey(dot: Dot): string {
  return `${dot.node}:${dot.counter}`
}

const poolTriple = historyArbitrary
  .map((history) => replay(history).pool)
  .filter((pool) => pool.length > 0)
  .chain((pool) => fc.tuple(fc.constantFrom(...pool), fc.constantFrom(...pool), fc.constantFrom(...pool)))

// ---------------------------------------------------------------------------------------------

describe('version vectors', () => {
  const vvArbitrary = fc
    .array(fc.tuple(fc.constantFrom(...nodeNames), fc.integer({min: 0, max: 20})), {maxLength: 6})
    .map((pairs) => versionVector(pairs))

  it('merge is the least upper bound and descends is its order', () => {
    fc.assert(
      fc.property(vvArbitrary, vvArbitrary, (a, b) => {
        const m = mergeVersionVectors(a, b)
        expect(descends(m, a) && descends(m, b)).toBe(true)
        expect(m).toEqual(mergeVersionVectors(b, a))
        for (const node of nodeNames) expect(counterOf(m, node)).toBe(Math.max(counterOf(a, node), counterOf(b, node)))
        expect(compareVersionVectors(a, b) === 'equal').toBe(descends(a, b) && descends(b, a))
      }),
    )
  })

  it('has one canonical form whatever the input order', () => {
    expect(versionVector([['n3', 2], ['n1', 4], ['n2', 0]])).toEqual([{node: 'n1', counter: 4}, {node: 'n3', counter: 2}])
    expect(versionVector({n3: 2, n1: 4})).toEqual(versionVector([['n1', 4], ['n3', 2]]))
  })

  it('formats as `n1:4, n3:2` and parses back', () => {
    expect(formatVersionVector(versionVector({n1: 4, n3: 2}))).toBe('n1:4, n3:2')
    expect(formatVersionVector(emptyVersionVector)).toBe('(empty)')
    fc.assert(
      fc.property(vvArbitrary, (vv) => {
        expect(parseVersionVector(formatVersionVector(vv))).toEqual(vv)
      }),
    )
  })

  it('rejects unreadable text with a named error', () => {
    for (const text of ['n1', 'n1:0', 'n1:x', ':3', 'n1:1, n1:2', 'n1:-1', 'n1:1.5']) {
      expect(() => parseVersionVector(text)).toThrow(VersionVectorSyntaxError)
    }
  })
})

describe('put rule', () => {
  const value = (text: string): Write => ({kind: 'value', value: new TextEncoder().encode(text)})

  it('follows DESIGN §3 step by step', () => {
    const first = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: value('a')})
    expect(first.dot).toEqual({node: 'n1', counter: 1})
    // A blind write at another coordinator stands beside the first.
    const second = applyPut(first.object, {coordinator: 'n2', context: emptyVersionVector, write: value('b')})
    expect(second.object.siblings.map((s) => s.dot)).toEqual([{node: 'n1', counter: 1}, {node: 'n2', counter: 1}])
    // A client context ahead of the coordinator's own counter raises it: n = max(VV[X], C[X]) + 1.
    const ahead = applyPut(second.object, {coordinator: 'n1', context: versionVector({n1: 5}), write: value('c')})
    expect(ahead.dot).toEqual({node: 'n1', counter: 6})
    expect(ahead.object.siblings.map((s) => s.dot)).toEqual([{node: 'n1', counter: 6}, {node: 'n2', counter: 1}])
    expect(ahead.object.vv).toEqual(versionVector({n1: 6, n2: 1}))
  })

  it('does not make false concurrency: two blind writes at one coordinator, then a resolving write', () => {
    const a = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: value('a')}).object
    const readContext = contextOf(a)
    const b = applyPut(a, {coordinator: 'n1', context: emptyVersionVector, write: value('b')}).object
    expect(liveSiblings(b)).toHaveLength(2)
    // A write with the context of the read that saw only `a` replaces `a`, keeps `b`.
    const c = applyPut(b, {coordinator: 'n1', context: readContext, write: value('c')}).object
    expect(liveSiblings(c).map((s) => Buffer.from(s.value).toString())).toEqual(['b', 'c'])
    // A write with the latest context replaces everything.
    const d = applyPut(c, {coordinator: 'n1', context: contextOf(c), write: value('d')}).object
    expect(liveSiblings(d).map((s) => Buffer.from(s.value).toString())).toEqual(['d'])
  })

  it('matches the example of docs/causality.md', () => {
    const text = (o: StoredObject) => `${formatVersionVector(o.vv)} | ${o.siblings.map((s) => `${s.dot.node}:${s.dot.counter}`).join(' ')}`
    const a = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: value('a')}).object
    const b = applyPut(a, {coordinator: 'n2', context: emptyVersionVector, write: value('b')}).object
    expect(text(b)).toBe('n1:1, n2:1 | n1:1 n2:1')
    const c = applyPut(b, {coordinator: 'n1', context: parseVersionVector('n1:1'), write: value('c')}).object
    expect(text(c)).toBe('n1:2, n2:1 | n1:2 n2:1')
    const d = applyPut(c, {coordinator: 'n1', context: parseVersionVector('n1:2, n2:1'), write: value('d')}).object
    expect(text(d)).toBe('n1:3, n2:1 | n1:3')
  })

  it('delete writes a tombstone that reads as not found and keeps its context', () => {
    const a = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: value('a')}).object
    const deleted = applyPut(a, {coordinator: 'n2', context: contextOf(a), write: {kind: 'tombstone'}}).object
    expect(isFound(deleted)).toBe(false)
    expect(tombstoneSiblings(deleted)).toHaveLength(1)
    expect(contextOf(deleted)).toEqual(versionVector({n1: 1, n2: 1}))
    // Re-creating with the tombstone's context leaves one live sibling and no tombstone.
    const again = applyPut(deleted, {coordinator: 'n1', context: contextOf(deleted), write: value('b')}).object
    expect(again.siblings).toHaveLength(1)
    expect(isFound(again)).toBe(true)
  })

  it('warns above siblingsWarn and refuses above siblingsMax; sync never refuses', () => {
    let object: StoredObject | undefined
    const blind = (at: string) => applyPut(object, {coordinator: at, context: emptyVersionVector, write: value('x')})
    for (let i = 1; i <= siblingsMax; i++) {
      const result = blind('n1')
      object = result.object
      expect(result.warning === undefined).toBe(i <= siblingsWarn)
    }
    expect(object!.siblings).toHaveLength(siblingsMax)
    const refusal = (() => {
      try {
        blind('n1')
      } catch (error) {
        return error
      }
      return undefined
    })()
    expect(refusal).toBeInstanceOf(SiblingLimitError)
    expect((refusal as SiblingLimitError).code).toBe('SIBLING_LIMIT')
    expect((refusal as SiblingLimitError).suggestion).toContain('dyn resolve KEY')
    let other: StoredObject | undefined
    for (let i = 0; i < 10; i++) other = applyPut(other, {coordinator: 'n2', context: emptyVersionVector, write: value('y')}).object
    expect(syncObjects(object!, other!).siblings).toHaveLength(siblingsMax + 10)
  })

  it('honours per-call limits', () => {
    const a = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: value('a'), siblingsWarn: 0})
    expect(a.warning?.code).toBe('SIBLINGS_MANY')
    expect(() => applyPut(a.object, {coordinator: 'n1', context: emptyVersionVector, write: value('b'), siblingsMax: 1})).toThrow(
      SiblingLimitError,
    )
  })
})

describe('sync rule', () => {
  it('is commutative, associative and idempotent on objects of one history', () => {
    fc.assert(
      fc.property(poolTriple, ([a, b, c]) => {
        expect(objectsEqual(syncObjects(a, a), a)).toBe(true)
        expect(objectsEqual(syncObjects(a, b), syncObjects(b, a))).toBe(true)
        expect(objectsEqual(syncObjects(syncObjects(a, b), c), syncObjects(a, syncObjects(b, c)))).toBe(true)
      }),
      {numRuns: 300},
    )
  })

  it('merges into an object that contains both sides and keeps the invariants', () => {
    fc.assert(
      fc.property(poolTriple, ([a, b]) => {
        const m = syncObjects(a, b)
        assertObjectInvariants(m)
        expect(objectContains(m, a) && objectContains(m, b)).toBe(true)
        expect(['equal', 'dominated']).toContain(compareObjects(a, m))
        const order = compareObjects(a, b)
        expect(order === 'equal').toBe(objectsEqual(a, b))
        expect(order === 'dominates' || order === 'equal').toBe(objectsEqual(m, a))
      }),
      {numRuns: 200},
    )
  })
})

describe('contract under random interleavings', () => {
  it('loses an acknowledged write only when a later context covered it, and converges', () => {
    fc.assert(
      fc.property(historyArbitrary, (history) => {
        const h = replay(history, (state) => {
          for (const object of state.replicas) if (object !== undefined) assertObjectInvariants(object)
          // Nothing uncovered is lost: each surviving write is still a sibling somewhere.
          const held = new Set(state.replicas.flatMap((o) => o?.siblings.map((s) => siblingKey(s.dot)) ?? []))
          for (const w of survivors(state.acked)) expect(held.has(siblingKey(w.dot))).toBe(true)
        })
        // All-to-all sync, twice around, leaves every replica equal.
        for (let round = 0; round < 2; round++) {
          for (let i = 0; i < h.replicas.length; i++) {
            for (let j = 0; j < h.replicas.length; j++) h.replicas[j] = syncAll([h.replicas[j], h.replicas[i]])
          }
        }
        const final = h.replicas[0]
        for (const object of h.replicas) {
          expect(object === undefined).toBe(final === undefined)
          if (object !== undefined) expect(objectsEqual(object, final!)).toBe(true)
        }
        // Exactly the writes no context covered remain: concurrent writes stay siblings, and
        // superseded ones are gone.
        const expected = survivors(h.acked)
        expect((final?.siblings ?? []).map((s) => siblingKey(s.dot)).sort()).toEqual(expected.map((w) => siblingKey(w.dot)).sort())
        for (const sibling of final?.siblings ?? []) {
          const write = expected.find((w) => siblingKey(w.dot) === siblingKey(sibling.dot))!
          expect(sibling.kind).toBe(write.write.kind)
          if (sibling.kind === 'value' && write.write.kind === 'value') expect(sibling.value).toEqual(write.write.value)
        }
      }),
      {numRuns: 300},
    )
  })
})

describe('canonical object encoding', () => {
  const objectArbitrary = historyArbitrary.map((history) => replay(history).pool).filter((pool) => pool.length > 0)

  it('round-trips exactly, and equal objects have equal digests', () => {
    fc.assert(
      fc.property(objectArbitrary, (pool) => {
        for (const object of pool) {
          const bytes = encodeObject(object)
          const decoded = decodeObject(bytes)
          expect(decoded).toEqual(object)
          expect(Buffer.from(encodeObject(decoded)).equals(bytes)).toBe(true)
          expect(versionDigest(decoded)).toEqual(versionDigest(object))
        }
        const [a, b] = [pool[0]!, pool[pool.length - 1]!]
        expect(Buffer.from(versionDigest(a)).equals(versionDigest(b))).toBe(objectsEqual(a, b))
      }),
      {numRuns: 100},
    )
  })

  it('counts siblings and values from the framing alone, as decoding does', () => {
    fc.assert(
      fc.property(objectArbitrary, (pool) => {
        for (const object of pool) {
          const values = object.siblings.filter((sibling) => sibling.kind === 'value').length
          expect(siblingCounts(encodeObject(object))).toEqual({siblings: object.siblings.length, values})
        }
      }),
      {numRuns: 100},
    )
  })

  it('finds no sibling counts in a truncated encoding or trailing bytes, and never throws on garbage', () => {
    fc.assert(
      fc.property(objectArbitrary, fc.nat(), fc.uint8Array({minLength: 1, maxLength: 8}), fc.uint8Array({maxLength: 64}), (pool, cut, tail, garbage) => {
        const bytes = encodeObject(pool[pool.length - 1]!)
        expect(siblingCounts(bytes.subarray(0, cut % bytes.length))).toBeUndefined()
        expect(siblingCounts(new Uint8Array([...bytes, ...tail]))).toBeUndefined()
        // Garbage either frames as an object or is refused; whenever decoding accepts it, the counts match.
        const counts = siblingCounts(garbage)
        let decoded: StoredObject | undefined
        try {
          decoded = decodeObject(garbage)
        } catch {
          decoded = undefined
        }
        if (decoded !== undefined) expect(counts).toEqual({siblings: decoded.siblings.length, values: decoded.siblings.filter((sibling) => sibling.kind === 'value').length})
      }),
      {numRuns: 200},
    )
  })

  it('rejects every truncation of a valid encoding', () => {
    fc.assert(
      fc.property(objectArbitrary, fc.nat(), (pool, cut) => {
        const bytes = encodeObject(pool[pool.length - 1]!)
        expect(() => decodeObject(bytes.subarray(0, cut % bytes.length))).toThrow(ObjectDecodeError)
      }),
      {numRuns: 100},
    )
  })

  it('decodes garbage only to an object that encodes back to the same bytes, else throws ObjectDecodeError', () => {
    const decodeOrError = (bytes: Uint8Array) => {
      try {
        return decodeObject(bytes)
      } catch (error) {
        expect(error).toBeInstanceOf(ObjectDecodeError)
        return undefined
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 80}), (bytes) => {
        const object = decodeOrError(bytes)
        if (object !== undefined) expect(Buffer.from(encodeObject(object)).equals(bytes)).toBe(true)
      }),
      {numRuns: 500},
    )
    // Flipped bits in valid encodings too.
    fc.assert(
      fc.property(objectArbitrary, fc.nat(), fc.integer({min: 1, max: 255}), (pool, at, mask) => {
        const bytes = encodeObject(pool[pool.length - 1]!).slice()
        bytes[at % bytes.length]! ^= mask
        const object = decodeOrError(bytes)
        if (object !== undefined) expect(Buffer.from(encodeObject(object)).equals(bytes)).toBe(true)
      }),
      {numRuns: 300},
    )
  })

  it('names what is wrong', () => {
    expect(() => decodeObject(Uint8Array.of(9))).toThrow(/unknown format 9/)
    expect(() => decodeObject(new Uint8Array(0))).toThrow(/truncated/)
    const one = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: {kind: 'tombstone'}}).object
    expect(() => decodeObject(Uint8Array.from([...encodeObject(one), 0]))).toThrow(/after the end/)
  })
})

describe('context token', () => {
  const cluster = {cluster: 'alpha'}
  const vvArbitrary = fc
    .array(fc.tuple(fc.string({minLength: 1, maxLength: 12}), fc.integer({min: 1, max: Number.MAX_SAFE_INTEGER})), {maxLength: 5})
    .map((pairs) => versionVector(pairs))

  it('round-trips and is URL-safe', () => {
    fc.assert(
      fc.property(vvArbitrary, (vv) => {
        const token = encodeContext(vv, cluster)
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/)
        expect(decodeContext(token, cluster)).toEqual(vv)
      }),
    )
  })

  it('refuses a context from another cluster', () => {
    const token = encodeContext(versionVector({n1: 4}), {cluster: 'beta'})
    expect(() => decodeContext(token, cluster)).toThrow(ContextClusterError)
  })

  it('rejects every single-character change and every truncation', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    fc.assert(
      fc.property(vvArbitrary, fc.nat(), fc.nat(), (vv, at, pick) => {
        const token = encodeContext(vv, cluster)
        const i = at % token.length
        const replacement = alphabet.replace(token[i]!, '')[pick % (alphabet.length - 1)]!
        const mangled = token.slice(0, i) + replacement + token.slice(i + 1)
        expect(() => decodeContext(mangled, cluster)).toThrow(DynError)
        expect(() => decodeContext(mangled, cluster)).not.toThrow(ContextClusterError)
        expect(() => decodeContext(token.slice(0, i), cluster)).toThrow(DynError)
      }),
      {numRuns: 300},
    )
  })

  it('rejects another format version and explains what to do', () => {
    const bytes = Buffer.from(encodeContext(versionVector({n1: 1}), cluster), 'base64url')
    bytes[0] = 2
    const error = (() => {
      try {
        decodeContext(bytes.toString('base64url'), cluster)
      } catch (caught) {
        return caught
      }
      return undefined
    })()
    expect(error).toBeInstanceOf(ContextVersionError)
    expect((error as DynError).exitCode).toBe(exitCodes.usage)
    expect((error as DynError).suggestion).toMatch(/read the key again/)
  })

  it('rejects empty, oversized and non-base64url tokens with ContextInvalidError', () => {
    for (const token of ['', 'abc$', 'a'.repeat(9000), 'AQ', 'AQ==']) {
      expect(() => decodeContext(token, cluster)).toThrow(ContextInvalidError)
    }
  })
})
