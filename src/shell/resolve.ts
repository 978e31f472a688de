// Resolving siblings by hand (DESIGN §3, §8): which value replaces the siblings of a key.
// Dynamo leaves reconciling concurrent versions to the application (§4.4, the shopping cart
// merges them); `dyn resolve` lets a person be that application: keep one sibling, or write
// a merged value. Either way the write carries the context of the read, which covers every
// sibling, so it replaces them all rather than adding one more.
//
// On a terminal the choice is asked with inquirer; without one it must come from flags,
// and is never waited for.
import {readFile} from 'node:fs/promises'
import {editor, input, select, Separator} from '@inquirer/prompts'
import type {Dot} from '../core/causality.js'
import {DynError, exitCodes} from '../core/errors.js'
import type {SiblingView} from '../core/protocol.js'
import {displayValue, valueText} from '../render/index.js'

export type Resolution =
  | {readonly kind: 'pick'; readonly index: number; readonly dot: Dot; readonly value: Uint8Array}
  | {readonly kind: 'value'; readonly value: Uint8Array; readonly source: 'flag' | 'file' | 'typed' | 'edited'}

/** What a script says instead of answering a question. */
export interface ResolveFlags {
  readonly pick?: number | undefined
  readonly value?: string | undefined
  readonly file?: string | undefined
}

/** Characters of a value shown in a choice; the table above the question shows more. */
export const choiceValueCharsMax = 60

export class ResolveChoiceError extends DynError {
  constructor(message: string, suggestion: string) {
    super(message, {code: 'USAGE', exitCode: exitCodes.usage, suggestion})
  }
}

export class ResolveCancelledError extends DynError {
  constructor() {
    super('cancelled: nothing was written', {code: 'CANCELLED', exitCode: exitCodes.error, suggestion: 'run dyn resolve KEY again when ready'})
  }
}

const flagsSuggestion = 'give --pick N (a sibling number as `dyn get` lists them), --value VALUE or --file PATH'

/** The resolution the flags ask for; undefined when they ask for none. */
export async function resolutionFromFlags(siblings: readonly SiblingView[], flags: ResolveFlags): Promise<Resolution | undefined> {
  const given = [flags.pick, flags.value, flags.file].filter((flag) => flag !== undefined).length
  if (given > 1) throw new ResolveChoiceError('give only one of --pick, --value and --file', flagsSuggestion)
  if (flags.pick !== undefined) return pick(siblings, flags.pick)
  if (flags.value !== undefined) return {kind: 'value', value: new TextEncoder().encode(flags.value), source: 'flag'}
  if (flags.file !== undefined) return {kind: 'value', value: new Uint8Array(await readFile(flags.file)), source: 'file'}
  return undefined
}

function pick(siblings: readonly SiblingView[], index: number): Resolution {
  const sibling = siblings[index - 1]
  if (!Number.isSafeInteger(index) || sibling === undefined) {
    throw new ResolveChoiceError(`there is no sibling ${index}: the key has ${siblings.length}`, `--pick 1 to --pick ${siblings.length}`)
  }
  return {kind: 'pick', index, dot: sibling.dot, value: sibling.value}
}

/** Why a choice cannot be asked for, or undefined when it can. */
export function cannotAsk(options: {readonly stdinTTY: boolean; readonly stdoutTTY: boolean; readonly json: boolean}): string | undefined {
  if (options.json) return 'with --json, resolve does not ask which value to keep'
  if (!options.stdinTTY || !options.stdoutTTY) return 'resolve asks which value to keep only on a terminal, and this is not one'
  return undefined
}

export function needsChoiceError(reason: string): ResolveChoiceError {
  return new ResolveChoiceError(reason, flagsSuggestion)
}

type Answer = {readonly kind: 'pick'; readonly index: number} | {readonly kind: 'type'} | {readonly kind: 'edit'} | {readonly kind: 'cancel'}

/** The question: each sibling, then writing a merged value, then cancelling. */
export function choiceConfig(key: string, siblings: readonly SiblingView[]) {
  return {
    message: `${key} has ${siblings.length} siblings. Which value replaces them all?`,
    choices: [
      ...siblings.map((sibling, position) => ({
        name: `#${position + 1}  ${shortValue(sibling.value)}  (dot ${sibling.dot.node}:${sibling.dot.counter})`,
        value: {kind: 'pick', index: position + 1} as Answer,
      })),
      new Separator(),
      {name: 'type a merged value', value: {kind: 'type'} as Answer},
      {name: 'edit a merged value in $EDITOR', value: {kind: 'edit'} as Answer},
      {name: 'cancel (write nothing)', value: {kind: 'cancel'} as Answer},
    ],
    pageSize: Math.min(siblings.length + 4, 15),
  }
}

/** A merged value's starting text: the text siblings, one per line for the editor, joined
 * by commas on one line for typing. */
export function mergedDraft(siblings: readonly SiblingView[], separator: string): string {
  return siblings
    .map((sibling) => displayValue(sibling.value))
    .flatMap((shown) => (shown.kind === 'text' ? [shown.text] : []))
    .join(separator)
}

/** Asks which value replaces the siblings. Throws ResolveCancelledError on cancel or Ctrl-C. */
export async function askResolution(key: string, siblings: readonly SiblingView[]): Promise<Resolution> {
  try {
    const answer = await select(choiceConfig(key, siblings))
    switch (answer.kind) {
      case 'pick':
        return pick(siblings, answer.index)
      case 'type': {
        const text = await input({message: `merged value for ${key}:`, default: mergedDraft(siblings, ','), prefill: 'editable'})
        return {kind: 'value', value: new TextEncoder().encode(text), source: 'typed'}
      }
      case 'edit': {
        const text = await editor({message: `merged value for ${key} (the editor opens on Enter):`, default: mergedDraft(siblings, '\n') + '\n'})
        return {kind: 'value', value: new TextEncoder().encode(text.replace(/\n$/u, '')), source: 'edited'}
      }
      case 'cancel':
        throw new ResolveCancelledError()
    }
  } catch (error) {
    // inquirer's Ctrl-C (ExitPromptError) and a closed terminal end the question.
    if (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError')) throw new ResolveCancelledError()
    throw error
  }
}

function shortValue(value: Uint8Array): string {
  const text = valueText(value).replaceAll('\n', '⏎')
  return text.length > choiceValueCharsMax ? `${text.slice(0, choiceValueCharsMax)}…` : text
}
