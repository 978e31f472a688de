// What a resolution of siblings is and how a script gives one with flags (DESIGN §3, §8),
// apart from the questions of resolve.ts: a command that takes its choice from flags, or
// refuses to ask, then never loads the prompt library (start-up time of `dyn resolve`).
import {readFile} from 'node:fs/promises'
import type {Dot} from '../core/causality.js'
import {DynError, exitCodes} from '../core/errors.js'
import type {SiblingView} from '../core/protocol.js'

export type Resolution =
  | {readonly kind: 'pick'; readonly index: number; readonly dot: Dot; readonly value: Uint8Array}
  | {readonly kind: 'value'; readonly value: Uint8Array; readonly source: 'flag' | 'file' | 'typed' | 'edited'}

/** What a script says instead of answering a question. */
export interface ResolveFlags {
  readonly pick?: number | undefined
  readonly value?: string | undefined
  readonly file?: string | undefined
}

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
  if (flags.pick !== undefined) return pickSibling(siblings, flags.pick)
  if (flags.value !== undefined) return {kind: 'value', value: new TextEncoder().encode(flags.value), source: 'flag'}
  if (flags.file !== undefined) return {kind: 'value', value: new Uint8Array(await readFile(flags.file)), source: 'file'}
  return undefined
}

export function pickSibling(siblings: readonly SiblingView[], index: number): Resolution {
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
