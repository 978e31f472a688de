// The contract of DESIGN §3 for one acknowledged write, decided on the end state: the one
// rule both checkers apply, the simulator's (checker.ts, which knows every dot a store
// persisted) and `dyn check`'s (src/check, which knows only what clients were told and what
// the replicas hold at the end). They differ only in how they answer the two questions the
// rule asks: did a write whose context covered the dot happen, and may this loss be excused.
//
// Let U = the sync of every replica's copy of the key and d the write's dot. The write is
//   - present: U has a sibling with dot d and the write's content;
//   - changed: U has a sibling with dot d but other content (a dot reissued: a bug);
//   - superseded: U's version vector covers d and some write whose context covered d was
//     applied (the only way a sibling may leave, docs/causality.md);
//   - excused: neither, but the caller knows the dot could have vanished legitimately (the
//     last copies lost unsynced in a crash, docs/simulation.md, docs/check.md);
//   - lost: anything else: an acknowledged write lost.
import {Buffer} from 'node:buffer'
import type {Dot, Sibling, StoredObject} from '../core/causality.js'
import {covers} from '../core/causality.js'

/** What a write put under its dot: a value (as text) or a tombstone. */
export type WriteContent = {readonly kind: 'value'; readonly value: string} | {readonly kind: 'tombstone'}

export type WriteFate =
  | {readonly kind: 'present'}
  | {readonly kind: 'changed'; readonly held: Sibling}
  | {readonly kind: 'superseded'}
  | {readonly kind: 'excused'}
  | {readonly kind: 'lost'}

export interface FateQuestions {
  /** Whether some applied write of the key had a context that covered `dot`. */
  readonly superseded: () => boolean
  /** Whether the dot may have vanished legitimately (asked only when nothing else explains it). */
  readonly excused: () => boolean
}

/** Decides the fate of the acknowledged write `dot` with `content`, given the union. */
export function fateOfWrite(union: StoredObject | undefined, dot: Dot, content: WriteContent, questions: FateQuestions): WriteFate {
  const held = union?.siblings.find((sibling) => sibling.dot.node === dot.node && sibling.dot.counter === dot.counter)
  if (held !== undefined) return sameContent(held, content) ? {kind: 'present'} : {kind: 'changed', held}
  if (union !== undefined && covers(union.vv, dot) && questions.superseded()) return {kind: 'superseded'}
  if (questions.excused()) return {kind: 'excused'}
  return {kind: 'lost'}
}

function sameContent(sibling: Sibling, content: WriteContent): boolean {
  if (sibling.kind !== content.kind) return false
  return sibling.kind === 'tombstone' || (content.kind === 'value' && Buffer.from(sibling.value).toString('utf8') === content.value)
}
