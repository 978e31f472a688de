// Resolving siblings by hand (DESIGN §3, §8): which value replaces the siblings of a key.
// Dynamo leaves reconciling concurrent versions to the application (§4.4, the shopping cart
// merges them); `dyn resolve` lets a person be that application: keep one sibling, or write
// a merged value. Either way the write carries the context of the read, which covers every
// sibling, so it replaces them all rather than adding one more.
//
// On a terminal the choice is asked with inquirer (this module); without one it must come
// from flags (resolution.ts, re-exported here), and is never waited for.
import {editor, input, select, Separator} from '@inquirer/prompts'
import type {SiblingView} from '../core/protocol.js'
import {displayValue, valueText} from '../render/index.js'
import {pickSibling, ResolveCancelledError, type Resolution} from './resolution.js'

export * from './resolution.js'

/** Characters of a value shown in a choice; the table above the question shows more. */
export const choiceValueCharsMax = 60

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
        return pickSibling(siblings, answer.index)
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
