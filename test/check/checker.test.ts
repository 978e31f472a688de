// The checker of `dyn check` on histories made by a simple model of the store: three
// replicas of a few keys, each put applied at a coordinator by the DVV put rule and
// replicated to a random subset of the others, reads from one replica, clients that read
// and then write with the context they read (sometimes a stale one). At the end every
// replica is synced with every other. A faithful history must pass; the same history with
// one acknowledged write's sibling removed from the replicas must fail, naming that write;
// and a loss is excused only when every primary that acknowledged the write lost it unsynced.
import {Buffer} from 'node:buffer'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {applyPut, syncAll, syncObjects, type StoredObject} from '../../src/core/causality.js'
import {checkHistory, type CheckInput, type Fault, type Operation} from '../../src/check/index.js'

const replicas = ['n1', 'n2', 'n3']

interface Step {
  readonly client: number
  readonly key: number
  readonly coordinator: number
  readonly readFrom: number
  /** Replicas besides the coordinator that store the write (bit mask). */
  readonly spread: number
  /** Use the context of an older read of this client instead of the one just made. */
  readonly stale: boolean
  /** Sync two replicas of the key afterwards (anti-entropy, read repair). */
  readonly sync: readonly [number, number] | undefined
}

const step: fc.Arbitrary<Step> = fc.record({
  client: fc.nat(2),
  key: fc.nat(2),
  coordinator: fc.nat(2),
  readFrom: fc.nat(2),
  spread: fc.nat(3),
  stale: fc.boolean(),
  sync: fc.option(fc.tuple(fc.nat(2), fc.nat(2)), {nil: undefined}),
})

/** Runs the model; returns the checker's input with every replica synced at the end. */
function modelRun(steps: readonly Step[]): CheckInput {
  const store = new Map<string, Map<string, StoredObject | undefined>>()
  const copy = (key: string, node: string): StoredObject | undefined => store.get(key)?.get(node)
  const keep = (key: string, node: string, object: StoredObject): void => {
    const byNode = store.get(key) ?? new Map<string, StoredObject | undefined>()
    store.set(key, byNode)
    const current = byNode.get(node)
    byNode.set(node, current === undefined ? object : syncObjects(current, object))
  }
  const operations: Operation[] = []
  const oldContexts = new Map<number, Operation[]>()
  let id = 0
  let timeMs = 0
  for (const [index, s] of steps.entries()) {
    const key = `k${s.key}`
    const client = `c${s.client}`
    const readNode = replicas[s.readFrom]!
    const read = copy(key, readNode)
    const get: Operation = {
      id: ++id,
      client,
      node: readNode,
      kind: 'get',
      key,
      invokeMs: timeMs++,
      completeMs: timeMs++,
      outcome: 'ok',
      returnedContext: read?.vv ?? [],
      siblings: (read?.siblings ?? []).flatMap((sibling) => (sibling.kind === 'value' ? [{dot: sibling.dot, value: Buffer.from(sibling.value).toString('utf8')}] : [])),
    }
    operations.push(get)
    const earlier = oldContexts.get(s.client) ?? []
    oldContexts.set(s.client, [...earlier, get])
    const from = s.stale && earlier.length > 0 ? earlier[0]! : get
    const coordinator = replicas[s.coordinator]!
    const value = `${client}-${index}`
    const applied = applyPut(copy(key, coordinator), {coordinator, context: from.returnedContext ?? [], write: {kind: 'value', value: Buffer.from(value)}})
    keep(key, coordinator, applied.object)
    const others = replicas.filter((node) => node !== coordinator)
    const stored = others.filter((_, bit) => (s.spread & (1 << bit)) !== 0)
    for (const node of stored) keep(key, node, applied.object)
    operations.push({
      id: ++id,
      client,
      node: coordinator,
      kind: 'put',
      key,
      value,
      context: from.returnedContext ?? [],
      readOp: from.id,
      invokeMs: timeMs++,
      completeMs: timeMs++,
      outcome: 'ok',
      dot: applied.dot,
      returnedContext: applied.object.vv,
      acknowledgedBy: [coordinator, ...stored].map((node) => ({node})),
    })
    if (s.sync !== undefined) {
      const [a, b] = s.sync.map((i) => replicas[i]!)
      const merged = syncAll([copy(key, a!), copy(key, b!)])
      if (merged !== undefined) {
        keep(key, a!, merged)
        keep(key, b!, merged)
      }
    }
  }
  const copies = new Map<string, Map<string, StoredObject | undefined>>()
  for (const [key, byNode] of store) {
    const union = syncAll(byNode.values())
    copies.set(key, new Map(replicas.map((node) => [node, union])))
  }
  return {operations, faults: [], copies, unreadable: [], convergence: {converged: true, convergeMs: 0, differing: []}, siblingsMax: 100}
}

/** The acknowledged puts whose dot the final replicas hold as a sibling. */
function presentWrites(input: CheckInput): Operation[] {
  return input.operations.filter((op) => {
    if (op.kind !== 'put' || op.dot === undefined) return false
    const union = [...(input.copies.get(op.key)?.values() ?? [])][0]
    return union?.siblings.some((sibling) => sibling.dot.node === op.dot!.node && sibling.dot.counter === op.dot!.counter) === true
  })
}

/** The replicas of `write`'s key without its sibling: version vectors untouched (the dot
 * still looks seen), the sibling gone everywhere. */
function withoutSibling(input: CheckInput, write: Operation): CheckInput {
  const copies = new Map(input.copies)
  const byNode = new Map<string, StoredObject | undefined>()
  for (const [node, object] of input.copies.get(write.key)!) {
    byNode.set(node, object === undefined ? undefined : {vv: object.vv, siblings: object.siblings.filter((sibling) => !(sibling.dot.node === write.dot!.node && sibling.dot.counter === write.dot!.counter))})
  }
  copies.set(write.key, byNode)
  return {...input, copies}
}

const runs = fc.array(step, {minLength: 1, maxLength: 30})

describe('the checker of dyn check', () => {
  it('passes every history of the model', () => {
    fc.assert(
      fc.property(runs, (steps) => {
        const result = checkHistory(modelRun(steps))
        expect(result.violations).toEqual([])
        expect(result.writes.lost).toBe(0)
        expect(result.writes.present + result.writes.superseded).toBe(result.writes.acknowledged)
      }),
      {numRuns: 300},
    )
  })

  it('reports an acknowledged write whose sibling the replicas lost, whatever their version vectors say', () => {
    fc.assert(
      fc.property(runs, fc.nat(), (steps, pick) => {
        const input = modelRun(steps)
        const present = presentWrites(input)
        fc.pre(present.length > 0)
        const victim = present[pick % present.length]!
        const result = checkHistory(withoutSibling(input, victim))
        expect(result.valid).toBe(false)
        expect(result.lostOperations).toContain(victim.id)
        expect(result.violations.some((violation) => violation.check === 'no acknowledged write lost' && violation.operation === victim.id)).toBe(true)
      }),
      {numRuns: 300},
    )
  })

  it('excuses the loss only when every primary that acknowledged the write lost its unsynced writes around it', () => {
    fc.assert(
      fc.property(runs, fc.nat(), (steps, pick) => {
        const input = modelRun(steps)
        const present = presentWrites(input)
        fc.pre(present.length > 0)
        const victim = present[pick % present.length]!
        const lossOn = (node: string, id: number): Fault => ({id, kind: 'lose-unsynced', nodes: [node], startMs: 0, endMs: 1e9, snapshotMs: victim.invokeMs, killMs: victim.completeMs! + 1})
        const acknowledgers = victim.acknowledgedBy!.map((replica) => replica.node)
        const all = checkHistory({...withoutSibling(input, victim), faults: acknowledgers.map((node, index) => lossOn(node, index + 1))})
        expect(all.violations).toEqual([])
        expect(all.lostUnsyncedOperations).toEqual([victim.id])
        // One primary that acknowledged it and kept its writes: the loss is a bug.
        const allButOne = checkHistory({...withoutSibling(input, victim), faults: acknowledgers.slice(1).map((node, index) => lossOn(node, index + 1))})
        expect(allButOne.lostOperations).toContain(victim.id)
        // A copy of the store taken after the acknowledgement still holds the write.
        const late = checkHistory({...withoutSibling(input, victim), faults: acknowledgers.map((node, index) => ({...lossOn(node, index + 1), snapshotMs: victim.completeMs! + 1}))})
        expect(late.lostOperations).toContain(victim.id)
      }),
      {numRuns: 200},
    )
  })

  it('reports a read of a value no put wrote, and one dot with two values', () => {
    const input = modelRun([{client: 0, key: 0, coordinator: 0, readFrom: 0, spread: 3, stale: false, sync: undefined}])
    const put = input.operations.find((op) => op.kind === 'put')!
    const forged: Operation = {id: 99, client: 'c9', node: 'n2', kind: 'get', key: 'k0', invokeMs: 10, completeMs: 11, outcome: 'ok', returnedContext: put.returnedContext!, siblings: [{dot: put.dot!, value: 'never-written'}]}
    const result = checkHistory({...input, operations: [...input.operations, forged]})
    expect(result.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual(['reads return written values', 'one dot names one write'])
  })

  it('reports replicas that differ and too many siblings', () => {
    const input = modelRun([
      {client: 0, key: 0, coordinator: 0, readFrom: 1, spread: 0, stale: false, sync: undefined},
      {client: 1, key: 0, coordinator: 1, readFrom: 2, spread: 0, stale: false, sync: undefined},
    ])
    const union = [...input.copies.get('k0')!.values()][0]!
    expect(union.siblings).toHaveLength(2)
    const stale = new Map(input.copies)
    stale.set('k0', new Map([...input.copies.get('k0')!].map(([node, object]) => [node, node === 'n3' ? undefined : object])))
    const result = checkHistory({...input, copies: stale, siblingsMax: 1})
    expect(result.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual(['replicas equal', 'siblings bounded'])
  })
})
