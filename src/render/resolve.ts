// What `dyn resolve` prints: the siblings it found, the choice, the write (dot, context,
// quorum) and the key's state read back afterwards.
import type {Dot} from '../core/causality.js'
import type {SiblingView} from '../core/protocol.js'
import type {PutQuorumDetails} from '../core/quorum.js'
import {jsonShapeVersion} from './json.js'
import {quorumJson} from './shapes.js'
import {putText, siblingsTable, type RenderOptions} from './tables.js'
import {valueJson, valueText} from './value.js'

export type ResolveChoiceView = {readonly kind: 'pick'; readonly index: number; readonly dot: Dot} | {readonly kind: 'value'; readonly source: string}

export interface ResolveInput {
  readonly key: string
  readonly before: {readonly siblings: readonly SiblingView[]; readonly context: string}
  /** Absent when there was nothing to resolve. */
  readonly choice?: ResolveChoiceView
  readonly write?: {readonly value: Uint8Array; readonly context: string; readonly dot: Dot; readonly siblings: number; readonly quorum: PutQuorumDetails}
  readonly after?: {readonly found: boolean; readonly siblings: readonly SiblingView[]; readonly context: string}
}

function siblingsJson(siblings: readonly SiblingView[]) {
  return siblings.map((sibling) => ({...valueJson(sibling.value), dot: {node: sibling.dot.node, counter: sibling.dot.counter}}))
}

/** The context to use next: the state read back, else the write's, else the first read's. */
function latestContext(input: ResolveInput): string {
  return input.after?.context ?? input.write?.context ?? input.before.context
}

export function resolveJson(input: ResolveInput) {
  return {
    version: jsonShapeVersion,
    key: input.key,
    resolved: input.write !== undefined,
    context: latestContext(input),
    before: {siblings: siblingsJson(input.before.siblings), context: input.before.context},
    ...(input.choice === undefined ? {} : {choice: input.choice}),
    ...(input.write === undefined
      ? {}
      : {
          write: {
            ...valueJson(input.write.value),
            context: input.write.context,
            dot: {node: input.write.dot.node, counter: input.write.dot.counter},
            siblings: input.write.siblings,
            quorum: quorumJson(input.write.quorum),
          },
        }),
    ...(input.after === undefined ? {} : {after: {found: input.after.found, siblings: siblingsJson(input.after.siblings), context: input.after.context}}),
  }
}

/** The lines before the question or the write: what there is to resolve. */
export function resolveHeader(input: Pick<ResolveInput, 'key' | 'before'>, options: RenderOptions): string {
  const count = input.before.siblings.length
  if (count === 1) return `key ${input.key}: 1 value, nothing to resolve\n${siblingsTable(input.before.siblings, options)}`
  return `key ${input.key}: ${count} siblings\n${siblingsTable(input.before.siblings, options)}`
}

export function resolveText(input: ResolveInput, options: RenderOptions): string {
  if (input.choice === undefined || input.write === undefined) return `context: ${latestContext(input)}`
  const chosen = input.choice.kind === 'pick' ? `sibling #${input.choice.index} (dot ${input.choice.dot.node}:${input.choice.dot.counter})` : `a merged value (${input.choice.source})`
  const lines = [
    `writing ${chosen}: ${cut(valueText(input.write.value))}`,
    `with the context of the read, which covers all ${input.before.siblings.length} siblings`,
    putText({key: input.key, verb: 'stored', ...input.write}, options),
  ]
  if (input.after !== undefined) lines.push(...afterLines(input.key, input.after, options))
  return lines.join('\n')
}

function afterLines(key: string, after: NonNullable<ResolveInput['after']>, options: RenderOptions): string[] {
  const count = after.siblings.length
  if (!after.found) return [`now: ${key} is not found (a delete arrived meanwhile)`]
  const state = count === 1 ? `now: ${key} has 1 value` : `now: ${key} has ${count} siblings: a write arrived meanwhile; run dyn resolve ${key} again`
  return [state, siblingsTable(after.siblings, options)]
}

/** A value shown on one line of the summary. */
const summaryCharsMax = 80

function cut(text: string): string {
  const line = text.replaceAll('\n', '⏎')
  return line.length > summaryCharsMax ? `${line.slice(0, summaryCharsMax)}…` : line
}
