// The questions `dyn resolve` asks on a terminal, answered through inquirer's test screen,
// and the choices scripts give with flags.
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {screen} from '@inquirer/testing/vitest'
import {describe, expect, it} from 'vitest'
import type {SiblingView} from '../../src/core/protocol.js'
import {askResolution, cannotAsk, mergedDraft, ResolveCancelledError, ResolveChoiceError, resolutionFromFlags} from '../../src/shell/resolve.js'

const text = (value: string) => new TextEncoder().encode(value)
const decoded = (value: Uint8Array) => new TextDecoder().decode(value)

const siblings: SiblingView[] = [
  {value: text('apple'), dot: {node: 'n1', counter: 3}},
  {value: text('pear'), dot: {node: 'n2', counter: 7}},
  {value: new Uint8Array([0, 255, 1]), dot: {node: 'n3', counter: 1}},
]

describe('resolve on a terminal', () => {
  it('shows every sibling with its dot and keeps the one picked', async () => {
    const answer = askResolution('cart', siblings)
    const shown = screen.getScreen()
    expect(shown).toContain('cart has 3 siblings')
    expect(shown).toContain('#1  apple  (dot n1:3)')
    expect(shown).toContain('#2  pear  (dot n2:7)')
    expect(shown).toContain('#3  (base64) AP8B  (dot n3:1)')
    screen.keypress('down')
    screen.keypress('enter')
    const resolution = await answer
    expect(resolution).toMatchObject({kind: 'pick', index: 2, dot: {node: 'n2', counter: 7}})
    expect(decoded(resolution.value)).toBe('pear')
  })

  it('takes a typed merged value, starting from the text siblings', async () => {
    const answer = askResolution('cart', siblings)
    for (let step = 0; step < 3; step++) screen.keypress('down')
    screen.keypress('enter')
    await screen.next()
    expect(screen.getScreen()).toContain('merged value for cart')
    expect(screen.getScreen()).toContain('apple,pear')
    screen.type(',plum')
    screen.keypress('enter')
    const resolution = await answer
    expect(resolution.kind).toBe('value')
    expect(decoded(resolution.value)).toBe('apple,pear,plum')
  })

  it('cancels without an answer', async () => {
    const answer = askResolution('cart', siblings)
    for (let step = 0; step < 5; step++) screen.keypress('down')
    screen.keypress('enter')
    await expect(answer).rejects.toBeInstanceOf(ResolveCancelledError)
  })

  it('drafts a merged value from the text siblings only', () => {
    expect(mergedDraft(siblings, '\n')).toBe('apple\npear')
  })
})

describe('resolve in scripts', () => {
  it('takes --pick, --value or --file, one of them', async () => {
    expect(await resolutionFromFlags(siblings, {})).toBeUndefined()
    expect(await resolutionFromFlags(siblings, {pick: 1})).toMatchObject({kind: 'pick', index: 1, dot: {node: 'n1', counter: 3}})
    const value = await resolutionFromFlags(siblings, {value: 'merged'})
    expect(value?.kind === 'value' && decoded(value.value)).toBe('merged')
    const dir = await mkdtemp(join(tmpdir(), 'dyn-resolve-'))
    try {
      await writeFile(join(dir, 'v'), new Uint8Array([1, 2, 3]))
      const fromFile = await resolutionFromFlags(siblings, {file: join(dir, 'v')})
      expect(fromFile?.value).toEqual(new Uint8Array([1, 2, 3]))
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
    await expect(resolutionFromFlags(siblings, {pick: 4})).rejects.toThrow(/no sibling 4: the key has 3/)
    await expect(resolutionFromFlags(siblings, {pick: 1, value: 'x'})).rejects.toBeInstanceOf(ResolveChoiceError)
  })

  it('never asks without a terminal or with --json', () => {
    expect(cannotAsk({stdinTTY: true, stdoutTTY: true, json: false})).toBeUndefined()
    expect(cannotAsk({stdinTTY: false, stdoutTTY: true, json: false})).toMatch(/only on a terminal/)
    expect(cannotAsk({stdinTTY: true, stdoutTTY: false, json: false})).toMatch(/only on a terminal/)
    expect(cannotAsk({stdinTTY: true, stdoutTTY: true, json: true})).toMatch(/--json/)
  })
})
