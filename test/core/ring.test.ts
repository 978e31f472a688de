import {describe, expect, it} from 'vitest'
import fc from 'fast-check'
import {distinctCountMax, distinctPossible, layoutGrid, pathMovesMax, windowViolations} from '../../src/core/claim.js'
import {
  PartitionCountError,
  createRing,
  joinNode,
  leaveNode,
  ownedCounts,
  ownershipSummary,
  preferenceList,
  ringFromJson,
  ringToJson,
  ringViolations,
  transfersBetween,
  type Ring,
} from '../../src/core/ring.js'

// ---- reference models -------------------------------------------------------------------

/** Windows with a repeated owner, by brute force. */
function modelViolations(owners: readonly string[], n: number): number[] {
  const q = owners.length
  const result: number[] = []
  for (let p = 0; p < q; p++) {
    const window = Array.from({length: Math.min(n, q)}, (_, d) => owners[(p + d) % q])
    if (new Set(window).size < window.length) result.push(p)
  }
  return result
}

/** Distinct owners walking clockwise, by brute force. */
function modelWalk(ring: Ring, partition: number): string[] {
  const order: string[] = []
  for (let d = 0; d < ring.partitionCount; d++) {
    const owner = ring.owners[(partition + d) % ring.partitionCount]!
    if (!order.includes(owner)) order.push(owner)
  }
  return order
}

function shares(ring: Ring): Map<string, number> {
  const weightSum = ring.nodes.reduce((total, node) => total + node.weight, 0)
  return new Map(ring.nodes.map((node) => [node.name, (ring.partitionCount * node.weight) / weightSum]))
}

/** True when the weighted shares, rounded up, fit under the distinctness cap floor(Q/N), or
 * distinct windows are impossible anyway: then balance is never traded for distinctness. */
function capFree(ring: Ring): boolean {
  const m = distinctCountMax(ring.partitionCount, ring.replicas)
  const distinct = distinctPossible({q: ring.partitionCount, n: ring.replicas, nodeCount: ring.nodes.length})
  return !distinct || [...shares(ring).values()].every((share) => Math.ceil(share) <= m)
}

/** The balance property asserted for every ring (docs/ring.md, "Balance"). */
function expectBalanced(ring: Ring): void {
  const counts = ownedCounts(ring)
  const m = distinctCountMax(ring.partitionCount, ring.replicas)
  const distinct = distinctPossible({q: ring.partitionCount, n: ring.replicas, nodeCount: ring.nodes.length})
  // At least N nodes own a partition (or every node, with fewer than N): each is one of the
  // N replicas of some keys. Nodes whose share rounds to 0 may be given one for that, each
  // taken from another node: a node's count may fall below its share by one per such lift.
  const needed = Math.min(ring.replicas, ring.nodes.length)
  expect([...counts.values()].filter((count) => count > 0).length).toBeGreaterThanOrEqual(needed)
  const lifts = Math.max(0, needed - [...shares(ring).values()].filter((share) => share >= 1).length)
  for (const [name, share] of shares(ring)) {
    const count = counts.get(name)!
    if (capFree(ring)) {
      expect(count - share).toBeLessThan(1)
      expect(share - count).toBeLessThan(1 + lifts)
    } else {
      expect(count).toBeLessThanOrEqual(m)
      expect(count).toBeGreaterThanOrEqual(Math.min(Math.floor(share), m) - lifts)
    }
  }
  expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(ring.partitionCount)
  if (distinct) expect(ringViolations(ring)).toEqual([])
  expect(ringViolations(ring)).toEqual(modelViolations(ring.owners, ring.replicas))
}

/** Moves forced by the counts alone: what any ring with the new counts must move. */
function forcedMoves(before: Ring, after: Ring): number {
  const old = ownedCounts(before)
  let forced = 0
  for (const [name, count] of ownedCounts(after)) forced += Math.max(0, count - (old.get(name) ?? 0))
  return forced
}

// ---- generators ---------------------------------------------------------------------------

const ringArbitrary = fc
  .record({
    bits: fc.integer({min: 3, max: 9}),
    n: fc.integer({min: 1, max: 5}),
    weights: fc.oneof(
      fc.array(fc.constant(1), {minLength: 1, maxLength: 12}).map((ones): number[] => ones),
      fc.array(fc.integer({min: 1, max: 4}), {minLength: 1, maxLength: 12}),
    ),
  })
  .map(({bits, n, weights}) =>
    createRing({partitionCount: 2 ** bits, replicas: Math.min(n, 2 ** bits), nodes: weights.map((weight, i) => ({name: `n${i}`, weight}))}),
  )

// ---- tests ----------------------------------------------------------------------------------

describe('ring creation', () => {
  it('accepts only powers of two from 8 to 4096 and names them in the error', () => {
    for (const bad of [0, 4, 100, 8192, 64.5]) {
      expect(() => createRing({partitionCount: bad, replicas: 3, nodes: [{name: 'a'}]})).toThrow(PartitionCountError)
    }
    try {
      createRing({partitionCount: 100, replicas: 3, nodes: [{name: 'a'}]})
    } catch (error) {
      expect((error as PartitionCountError).suggestion).toContain('8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096')
    }
    expect(createRing({partitionCount: 4096, replicas: 3, nodes: [{name: 'a'}]}).owners).toHaveLength(4096)
  })

  it('rejects bad weights, duplicate names and N outside 1..Q', () => {
    expect(() => createRing({partitionCount: 8, replicas: 3, nodes: [{name: 'a', weight: 0}]})).toThrow(/weight/)
    expect(() => createRing({partitionCount: 8, replicas: 3, nodes: [{name: 'a'}, {name: 'a'}]})).toThrow(/twice/)
    expect(() => createRing({partitionCount: 8, replicas: 9, nodes: [{name: 'a'}]})).toThrow(/replicas/)
  })

  it('balances by weight and keeps every N-window distinct when possible', () => {
    fc.assert(
      fc.property(ringArbitrary, (ring) => {
        expectBalanced(ring)
      }),
      {numRuns: 300},
    )
  })

  it('gives every node a partition when N needs them all: Q = 8, N = 5, weights 3, 4, 3, 1, 1', () => {
    const ring = createRing({partitionCount: 8, replicas: 5, nodes: [3, 4, 3, 1, 1].map((weight, i) => ({name: `n${i}`, weight}))})
    expect(new Set(ring.owners).size).toBe(5)
    for (let partition = 0; partition < 8; partition++) expect(new Set(preferenceList(ring, {partition}).primaries).size).toBe(5)
  })

  it('needs S * floor(Q/N) >= Q for distinct windows: 3 nodes, N = 3, Q = 64 cannot', () => {
    const ring = createRing({partitionCount: 64, replicas: 3, nodes: ['a', 'b', 'c'].map((name) => ({name}))})
    expect(distinctPossible({q: 64, n: 3, nodeCount: 3})).toBe(false)
    expect(ringViolations(ring).length).toBeGreaterThan(0)
    // The least a 22-partition node can cause: one gap of at most 1, i.e. N - 1 = 2 windows.
    expect(ringViolations(ring)).toHaveLength(2)
    const four = createRing({partitionCount: 64, replicas: 3, nodes: ['a', 'b', 'c', 'd'].map((name) => ({name}))})
    expect(ringViolations(four)).toEqual([])
  })

  it('lays out any counts with max(count) <= floor(Q/N) with distinct windows (the grid)', () => {
    fc.assert(
      fc.property(fc.integer({min: 3, max: 9}), fc.integer({min: 1, max: 5}), fc.array(fc.nat(), {minLength: 1, maxLength: 12}), (bits, n, seeds) => {
        const q = 2 ** bits
        const m = Math.floor(q / n)
        // Spread q over the nodes, then cap at m; skip when the caps cannot cover q.
        if (seeds.length * m < q) return
        const counts = new Map(seeds.map((_, i) => [`n${i}`, 0]))
        let left = q
        for (let i = 0; left > 0; i = (i + 1) % seeds.length) {
          const name = `n${i}`
          const add = Math.min(left, m - counts.get(name)!, 1 + (seeds[i]! % 3))
          counts.set(name, counts.get(name)! + add)
          left -= add
        }
        const owners = layoutGrid(q, counts)
        expect(windowViolations(owners, n)).toEqual([])
        for (const [name, count] of counts) expect(owners.filter((owner) => owner === name)).toHaveLength(count)
      }),
      {numRuns: 300},
    )
  })

  it('round-trips through JSON and refuses damaged JSON', () => {
    fc.assert(
      fc.property(ringArbitrary, (ring) => {
        expect(ringFromJson(ringToJson(ring))).toEqual(ring)
      }),
      {numRuns: 50},
    )
    const ring = createRing({partitionCount: 8, replicas: 2, nodes: [{name: 'a'}, {name: 'b'}]})
    expect(() => ringFromJson('{')).toThrow(/not JSON/)
    expect(() => ringFromJson({...ring, owners: ring.owners.slice(1)})).toThrow(/owners/)
    expect(() => ringFromJson({...ring, owners: ring.owners.map(() => 'zz')})).toThrow(/not a node/)
  })
})

describe('preference lists', () => {
  it('have N distinct primaries when S >= N, then every other node as fallbacks, as the model walk', () => {
    fc.assert(
      fc.property(ringArbitrary, fc.nat(), (ring, seed) => {
        const partition = seed % ring.partitionCount
        const list = preferenceList(ring, {partition})
        const walk = modelWalk(ring, partition)
        expect(list.primaries).toEqual(walk.slice(0, ring.replicas))
        expect(list.primaries).toHaveLength(Math.min(ring.replicas, ring.nodes.length))
        expect(new Set(list.primaries).size).toBe(list.primaries.length)
        expect(list.fallbacks).toEqual(walk.slice(ring.replicas))
        for (const fallback of list.fallbacks) expect(list.primaries).not.toContain(fallback)
        // With distinct windows the primaries are exactly the owners of the next N partitions.
        if (ringViolations(ring).length === 0 && ring.nodes.length >= ring.replicas) {
          expect(list.primaries).toEqual(Array.from({length: ring.replicas}, (_, d) => ring.owners[(partition + d) % ring.partitionCount]))
        }
      }),
      {numRuns: 300},
    )
  })

  it('replaces each unhealthy primary by the next healthy fallback (sloppy quorum)', () => {
    fc.assert(
      fc.property(ringArbitrary, fc.nat(), fc.array(fc.boolean(), {minLength: 12, maxLength: 12}), (ring, seed, health) => {
        const healthy = new Set(ring.nodes.filter((_, i) => health[i]).map((node) => node.name))
        const list = preferenceList(ring, {partition: seed % ring.partitionCount}, {healthy})
        const spare = list.fallbacks.filter((node) => healthy.has(node))
        const expected: {node: string; fallbackFor?: string}[] = []
        const unreplaced: string[] = []
        for (const primary of list.primaries) {
          if (healthy.has(primary)) expected.push({node: primary})
          else if (spare.length > 0) expected.push({node: spare.shift()!, fallbackFor: primary})
          else unreplaced.push(primary)
        }
        expect(list.targets).toEqual(expected)
        expect(list.unreplaced).toEqual(unreplaced)
        for (const target of list.targets) expect(healthy.has(target.node)).toBe(true)
        expect(new Set(list.targets.map((target) => target.node)).size).toBe(list.targets.length)
      }),
      {numRuns: 300},
    )
  })

  it('finds a key by its partition and accepts a predicate', () => {
    const ring = createRing({partitionCount: 64, replicas: 3, nodes: ['a', 'b', 'c', 'd', 'e'].map((name) => ({name}))})
    const list = preferenceList(ring, {key: 'user:42'}, {healthy: (node) => node !== ring.owners[list0(ring)]})
    expect(list.partition).toBe(list0(ring))
    expect(list.targets[0]!.fallbackFor).toBe(ring.owners[list.partition])
    function list0(r: Ring): number {
      return preferenceList(r, {key: 'user:42'}).partition
    }
  })
})

describe('join and leave', () => {
  const changeArbitrary = fc.tuple(ringArbitrary, fc.boolean(), fc.integer({min: 1, max: 4}), fc.nat())

  it('describe the change exactly, bump the version, stay balanced and distinct, and move within the bound', () => {
    fc.assert(
      fc.property(changeArbitrary, ([ring, join, weight, seed]) => {
        if (!join && ring.nodes.length === 1) return
        const uniform = ring.nodes.every((node) => node.weight === 1)
        const leaving = ring.nodes[seed % ring.nodes.length]!.name
        const change = join ? joinNode(ring, {name: 'new', weight: uniform ? 1 : weight}) : leaveNode(ring, leaving)
        const next = change.ring
        expect(next.version).toBe(ring.version + 1)
        expect(change.transfers).toEqual(transfersBetween(ring, next))
        expect(change.transfers).toEqual(
          ring.owners.flatMap((from, partition) => (from === next.owners[partition] ? [] : [{partition, from, to: next.owners[partition]}])),
        )
        expectBalanced(next)
        if (change.relaidOut || ringViolations(ring).length > 0) return
        const forced = forcedMoves(ring, next)
        // Proven: at least the forced moves, at most pathMovesMax per forced move.
        expect(change.transfers.length).toBeGreaterThanOrEqual(forced)
        expect(change.transfers.length).toBeLessThanOrEqual(pathMovesMax * forced)
        if (!capFree(ring) || !capFree(next)) return
        if (join) {
          const weightSum = next.nodes.reduce((total, node) => total + node.weight, 0)
          const newWeight = next.nodes.find((node) => node.name === 'new')!.weight
          expect(forced).toBeLessThanOrEqual(Math.ceil((ring.partitionCount * newWeight) / weightSum))
          // No old node gains: every transfer goes to the new node or shifts along a path.
          expect(ownedCounts(next).get('new')).toBe(forced)
        } else {
          expect(forced).toBe(ownedCounts(ring).get(leaving))
          expect(change.transfers.filter((t) => t.from === leaving)).toHaveLength(ownedCounts(ring).get(leaving)!)
        }
      }),
      {numRuns: 300},
    )
  })

  it('moves exactly the forced partitions in the common case of many nodes and N = 3', () => {
    let ring = createRing({partitionCount: 256, replicas: 3, nodes: Array.from({length: 8}, (_, i) => ({name: `n${i}`}))})
    for (const name of ['x1', 'x2', 'x3']) {
      const change = joinNode(ring, {name})
      expect(change.relaidOut).toBe(false)
      expect(change.transfers.every((t) => t.to === name)).toBe(true)
      expect(change.transfers).toHaveLength(ownedCounts(change.ring).get(name)!)
      ring = change.ring
    }
    const change = leaveNode(ring, 'n3')
    expect(change.relaidOut).toBe(false)
    expect(ringViolations(change.ring)).toEqual([])
    expect(change.transfers.length).toBeLessThanOrEqual(pathMovesMax * ownedCounts(ring).get('n3')!)
  })

  it('summarises ownership against the weighted share', () => {
    const ring = createRing({partitionCount: 64, replicas: 3, nodes: [{name: 'a', weight: 2}, {name: 'b'}, {name: 'c'}, {name: 'd'}]})
    const summary = ownershipSummary(ring)
    expect(summary.map((row) => row.node)).toEqual(['a', 'b', 'c', 'd'])
    expect(summary[0]).toMatchObject({partitions: 21, target: 25.6})
    expect(summary.reduce((total, row) => total + row.share, 0)).toBeCloseTo(1)
  })
})
