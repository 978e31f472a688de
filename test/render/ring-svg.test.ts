// `dyn ring --svg` (src/render/ring-svg.ts): for any ring, a well-formed SVG document with
// one arc per partition in its owner's colour, one colour per owner, a legend entry per node
// in the same colour, and a key's preference list marked where the walk meets each node.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {elements, parseSvg} from './svg-parse.js'
import {hashKey, positionHex} from '../../src/core/hash.js'
import {createRing, preferenceList, type Ring} from '../../src/core/ring.js'
import {ownerColor, preferenceStops, ringSvg, type RingSvgKey} from '../../src/render/ring-svg.js'
import {escapeXml} from '../../src/render/svg.js'

function keyOf(ring: Ring, n: number, key: string): RingSvgKey {
  const list = preferenceList(ring, {key: new TextEncoder().encode(key)}, {n})
  return {key, hash: positionHex(hashKey(key)), partition: list.partition, preferenceList: list.primaries, fallbacks: list.fallbacks}
}

const ringArbitrary = fc
  .record({
    nodes: fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/), {minLength: 1, maxLength: 14}),
    q: fc.constantFrom(8, 16, 64, 256, 1024),
    n: fc.integer({min: 1, max: 5}),
    weights: fc.array(fc.integer({min: 1, max: 4}), {minLength: 14, maxLength: 14}),
  })
  .map(({nodes, q, n, weights}) => ({
    n,
    ring: createRing({partitionCount: q, replicas: n, nodes: nodes.map((name, index) => ({name, weight: weights[index] ?? 1}))}),
  }))

describe('ringSvg', () => {
  it('draws one arc per partition in its owner’s colour, one colour per owner, and a legend in the same colours (property)', () => {
    fc.assert(
      fc.property(ringArbitrary, ({ring, n}) => {
        const root = parseSvg(ringSvg({ring, n}))
        const arcs = elements(root, 'path', 'partition')
        expect(arcs).toHaveLength(ring.partitionCount)
        expect(arcs.map((arc) => Number(arc.getAttribute('data-partition')))).toEqual(ring.owners.map((_, partition) => partition))
        const colorOf = new Map<string, string>()
        for (const arc of arcs) {
          const owner = arc.getAttribute('data-owner') ?? ''
          expect(owner).toBe(ring.owners[Number(arc.getAttribute('data-partition'))])
          const fill = arc.getAttribute('fill') ?? ''
          expect(colorOf.get(owner) ?? fill).toBe(fill)
          colorOf.set(owner, fill)
          expect(arc.getAttribute('d')).toMatch(/^M [\d.-]+ [\d.-]+ A .* Z$/)
        }
        expect(new Set(colorOf.values()).size, 'distinct owners, distinct colours').toBe(colorOf.size)
        const legend = elements(root, 'g', 'legend')
        expect(legend.map((entry) => entry.getAttribute('data-node'))).toEqual(ring.nodes.map((node) => node.name))
        for (const entry of legend) {
          const node = entry.getAttribute('data-node') ?? ''
          const swatch = entry.getElementsByTagName('rect')[0]
          if (colorOf.has(node)) expect(swatch?.getAttribute('fill')).toBe(colorOf.get(node))
        }
        expect(elements(root, 'g', 'replica')).toHaveLength(0)
      }),
      {numRuns: 30},
    )
  })

  it('marks a key’s preference list: each node where the clockwise walk from the key’s partition first meets it, primaries before fallbacks (property)', () => {
    fc.assert(
      fc.property(ringArbitrary, fc.string({minLength: 1, maxLength: 40}), ({ring, n}, key) => {
        const input = keyOf(ring, n, key)
        const root = parseSvg(ringSvg({ring, n, key: input}))
        const marks = elements(root, 'g', 'replica')
        const listed = [...input.preferenceList, ...input.fallbacks]
        expect(marks.map((mark) => mark.getAttribute('data-node'))).toEqual(listed)
        expect(marks.map((mark) => Number(mark.getAttribute('data-rank')))).toEqual(listed.map((_, index) => index + 1))
        marks.forEach((mark, index) => {
          const node = mark.getAttribute('data-node') ?? ''
          const partition = Number(mark.getAttribute('data-partition'))
          expect(mark.getAttribute('class')).toBe(`replica ${index < input.preferenceList.length ? 'primary' : 'fallback'}`)
          expect(ring.owners[partition]).toBe(node)
          // No partition between the key's and this one belongs to the node.
          for (let step = 0; (input.partition + step) % ring.partitionCount !== partition; step++) {
            expect(ring.owners[(input.partition + step) % ring.partitionCount]).not.toBe(node)
          }
        })
        expect(elements(root, 'g', 'key-marker')).toHaveLength(1)
        // The coordinator is the owner of the key's own partition.
        expect(marks[0]?.getAttribute('data-partition')).toBe(String(input.partition))
      }),
      {numRuns: 30},
    )
  })

  it('escapes a key and node names that XML would misread', () => {
    const ring = createRing({partitionCount: 8, replicas: 2, nodes: [{name: 'a', weight: 1}, {name: 'b', weight: 1}]})
    const key = `<x a="1" & b='2'>`
    const root = parseSvg(ringSvg({ring, n: 2, key: keyOf(ring, 2, key)}))
    const texts = Array.from(root.getElementsByTagName('text')).map((text) => text.textContent)
    expect(texts).toContain(key)
    expect(escapeXml(`&<>"'`)).toBe('&#38;&#60;&#62;&#34;&#39;')
  })

  it('is the same document for the same input, and says the ring’s version, Q and N', () => {
    const ring = createRing({partitionCount: 64, replicas: 3, nodes: ['n1', 'n2', 'n3'].map((name) => ({name, weight: 1}))})
    const text = ringSvg({ring, n: 3, key: keyOf(ring, 3, 'cart')})
    expect(ringSvg({ring, n: 3, key: keyOf(ring, 3, 'cart')})).toBe(text)
    expect(text).toContain('ring version 1: Q=64 partitions, N=3')
    expect(preferenceStops(ring, keyOf(ring, 3, 'cart')).map((stop) => stop.rank)).toEqual([1, 2, 3])
  })

  it('gives the first 60 owners distinct colours', () => {
    const colors = Array.from({length: 60}, (_, index) => ownerColor(index))
    expect(new Set(colors).size).toBe(60)
  })
})
