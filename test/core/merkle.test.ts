import {Buffer} from 'node:buffer'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {
  MerkleDecodeError,
  MerkleShapeError,
  MerkleTree,
  diffBranches,
  diffLeaves,
  diffSegmentKeys,
  diffTrees,
  entryHash,
  merkleShape,
  rootsEqual,
  segmentOf,
} from '../../src/core/merkle.js'

const segmentsArbitrary = fc.constantFrom(1, 2, 8, 32, 128, 1024)
const keyArbitrary = fc.string({minLength: 1, maxLength: 6, unit: fc.constantFrom('a', 'b', 'c', 'd', 'é', '1', '2')})
const digestArbitrary = fc.nat({max: 5}).map((n) => Uint8Array.of(n, 0xaa, n))

/** A write to one side: a digest, or undefined to remove the key. */
type Change = readonly [side: 'a' | 'b' | 'both', key: string, digest: Uint8Array | undefined]

const changesArbitrary = fc.array(
  fc.tuple(fc.constantFrom('a' as const, 'b' as const, 'both' as const), keyArbitrary, fc.option(digestArbitrary, {nil: undefined})),
  {maxLength: 80},
)

/** Replays changes into a model (a Map per side) and incrementally updated trees. */
function replay(segments: number, changes: readonly Change[]) {
  const model = {a: new Map<string, Uint8Array>(), b: new Map<string, Uint8Array>()}
  const trees = {a: new MerkleTree({segments}), b: new MerkleTree({segments})}
  for (const [side, key, digest] of changes) {
    for (const name of side === 'both' ? (['a', 'b'] as const) : [side]) {
      trees[name].update(key, model[name].get(key), digest)
      if (digest === undefined) model[name].delete(key)
      else model[name].set(key, digest)
    }
  }
  return {model, trees}
}

function segmentContents(map: ReadonlyMap<string, Uint8Array>, segments: number): Map<number, string> {
  const contents = new Map<number, string[]>()
  for (const [key, digest] of [...map].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    const segment = segmentOf(key, segments)
    contents.set(segment, [...(contents.get(segment) ?? []), `${key}=${Buffer.from(digest).toString('hex')}`])
  }
  return new Map([...contents].map(([segment, entries]) => [segment, entries.join(',')]))
}

function differingSegments(a: ReadonlyMap<string, Uint8Array>, b: ReadonlyMap<string, Uint8Array>, segments: number): number[] {
  const left = segmentContents(a, segments)
  const right = segmentContents(b, segments)
  return [...new Set([...left.keys(), ...right.keys()])].filter((s) => left.get(s) !== right.get(s)).sort((x, y) => x - y)
}

describe('tree shape', () => {
  it('is a power of two of segments under square-ish branches', () => {
    expect(merkleShape()).toEqual({segments: 1024, branches: 32, branchWidth: 32})
    expect(merkleShape(2048)).toEqual({segments: 2048, branches: 32, branchWidth: 64})
    expect(merkleShape(1)).toEqual({segments: 1, branches: 1, branchWidth: 1})
    for (const bad of [0, 3, 1000, 2 ** 17, 1.5, -4]) expect(() => merkleShape(bad)).toThrow(MerkleShapeError)
  })

  it('places a key by its bytes only, spread over all segments', () => {
    fc.assert(
      fc.property(keyArbitrary, segmentsArbitrary, (key, segments) => {
        const segment = segmentOf(key, segments)
        expect(Number.isInteger(segment) && segment >= 0 && segment < segments).toBe(true)
        expect(segmentOf(new TextEncoder().encode(key), segments)).toBe(segment)
      }),
    )
    const used = new Set(Array.from({length: 4096}, (_, i) => segmentOf(`key-${i}`, 64)))
    expect(used.size).toBe(64)
  })
})

describe('incremental updates', () => {
  it('equal a tree rebuilt from scratch, and removing everything empties it', () => {
    fc.assert(
      fc.property(segmentsArbitrary, changesArbitrary, (segments, changes) => {
        const {model, trees} = replay(segments, changes)
        const rebuilt = MerkleTree.fromEntries(model.a, {segments})
        expect(Buffer.from(trees.a.export()).equals(rebuilt.export())).toBe(true)
        expect(trees.a.isConsistent()).toBe(true)
        for (const [key, digest] of model.a) trees.a.update(key, digest, undefined)
        expect(Buffer.from(trees.a.export()).equals(new MerkleTree({segments}).export())).toBe(true)
      }),
      {numRuns: 200},
    )
  })
})

describe('bulk build', () => {
  it('leaves toggled alone, then the upper levels rebuilt, equal the same entries toggled one by one', () => {
    fc.assert(
      fc.property(segmentsArbitrary, fc.array(fc.tuple(keyArbitrary, digestArbitrary), {maxLength: 80}), (segments, entries) => {
        const bulk = new MerkleTree({segments})
        for (const [key, digest] of entries) bulk.toggleLeaf(bulk.segmentOf(key), entryHash(key, digest))
        bulk.rebuildUpperLevels()
        expect(bulk.isConsistent()).toBe(true)
        expect(Buffer.from(bulk.export()).equals(MerkleTree.fromEntries(entries, {segments}).export())).toBe(true)
      }),
      {numRuns: 200},
    )
  })
})

describe('diff', () => {
  it('returns exactly the segments whose contents differ, visiting only differing branches', () => {
    fc.assert(
      fc.property(segmentsArbitrary, changesArbitrary, (segments, changes) => {
        const {model, trees} = replay(segments, changes)
        const expected = differingSegments(model.a, model.b, segments)
        const diff = diffTrees(trees.a, trees.b)
        expect(diff.segments).toEqual(expected)
        expect(rootsEqual(trees.a, trees.b)).toBe(expected.length === 0)
        const {branches, branchWidth} = trees.a.shape
        const differingBranches = new Set(expected.map((segment) => Math.floor(segment / branchWidth))).size
        expect(diff.compared).toBe(expected.length === 0 ? 1 : 1 + branches + differingBranches * branchWidth)
        expect(diffTrees(trees.b, trees.a).segments).toEqual(expected)
      }),
      {numRuns: 300},
    )
  })

  it('compares far fewer hashes than the tree holds when one key differs', () => {
    const entries = Array.from({length: 2000}, (_, i): [string, Uint8Array] => [`key-${i}`, Uint8Array.of(i % 256)])
    const a = MerkleTree.fromEntries(entries)
    const b = MerkleTree.fromEntries(entries)
    b.update('key-7', Uint8Array.of(7), Uint8Array.of(8))
    const diff = diffTrees(a, b)
    expect(diff.segments).toEqual([segmentOf('key-7')])
    expect(diff.compared).toBe(1 + 32 + 32)
  })

  it('runs level by level against a tree received over the wire', () => {
    fc.assert(
      fc.property(segmentsArbitrary, changesArbitrary, (segments, changes) => {
        const {trees} = replay(segments, changes)
        const remote = MerkleTree.import(trees.b.export())
        const branches = diffBranches(trees.a, remote.branches())
        const leaves = diffLeaves(trees.a, branches, remote.leavesOf(branches))
        expect(leaves).toEqual(diffTrees(trees.a, trees.b).segments)
      }),
      {numRuns: 150},
    )
  })

  it('refuses trees or levels of another shape', () => {
    expect(() => diffTrees(new MerkleTree({segments: 8}), new MerkleTree({segments: 16}))).toThrow(MerkleShapeError)
    expect(() => diffBranches(new MerkleTree(), new Uint8Array(16))).toThrow(MerkleDecodeError)
    expect(() => diffLeaves(new MerkleTree(), [0], new Uint8Array(16))).toThrow(MerkleDecodeError)
  })
})

describe('export and import', () => {
  it('round-trip, and any corruption is detected', () => {
    fc.assert(
      fc.property(segmentsArbitrary, changesArbitrary, fc.nat(), fc.integer({min: 1, max: 255}), (segments, changes, at, mask) => {
        const {trees} = replay(segments, changes)
        const bytes = trees.a.export()
        expect(Buffer.from(MerkleTree.import(bytes).export()).equals(bytes)).toBe(true)
        const corrupt = bytes.slice()
        corrupt[at % bytes.length]! ^= mask
        expect(() => MerkleTree.import(corrupt)).toThrow(MerkleDecodeError)
        expect(() => MerkleTree.import(bytes.subarray(0, at % bytes.length))).toThrow(MerkleDecodeError)
      }),
      {numRuns: 150},
    )
  })
})

describe('key-level diff of one segment', () => {
  it('lists exactly the keys missing on a side or at different versions', () => {
    fc.assert(
      fc.property(changesArbitrary, (changes) => {
        const {model} = replay(1, changes)
        const differences = diffSegmentKeys(model.a, model.b)
        const keys = [...new Set([...model.a.keys(), ...model.b.keys()])]
        const expected = keys.filter((key) => {
          const [x, y] = [model.a.get(key), model.b.get(key)]
          return x === undefined || y === undefined || !Buffer.from(x).equals(y)
        })
        expect(differences.map((d) => d.key).sort()).toEqual(expected.sort())
        for (const difference of differences) {
          const [x, y] = [model.a.get(difference.key as string), model.b.get(difference.key as string)]
          switch (difference.kind) {
            case 'onlyA':
              expect([difference.a, y]).toEqual([x, undefined])
              break
            case 'onlyB':
              expect([x, difference.b]).toEqual([undefined, y])
              break
            case 'different':
              expect([difference.a, difference.b]).toEqual([x, y])
              break
          }
        }
      }),
      {numRuns: 200},
    )
  })

  it('sorts by key bytes', () => {
    const d = Uint8Array.of(1)
    const keys = diffSegmentKeys([['b', d], [Uint8Array.of(0x61), d]], [['é', d]]).map((x) => Buffer.from(x.key).toString())
    expect(keys).toEqual(['a', 'b', 'é'])
  })
})
