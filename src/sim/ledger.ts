// What the checker knows about a run: the history of client operations (what each sent and
// what it was told) and the dot ledger (which operation created each dot, and what the
// coordinator's object looked like right after). The ledger watches every value the
// simulated stores persist; a dot seen for the first time was just made by a coordinator's
// put rule, inside the request of the client operation that the simulated network carried
// along (AsyncLocalStorage). That is how the checker learns whether a write whose outcome the
// client never learned (quorum not met, timeout) was applied anyway.
import type {AsyncLocalStorage} from 'node:async_hooks'
import {Buffer} from 'node:buffer'
import {decodeObject, formatVersionVector, type Dot, type StoredObject, type VersionVector} from '../core/causality.js'
import type {Trace} from './trace.js'

export type OperationKind = 'get' | 'put' | 'delete'

/** ok: the node answered with success; failed: it answered with an error (for a write,
 * indeterminate: it may have been applied); timeout: no answer (indeterminate too). */
export type Outcome = 'ok' | 'failed' | 'timeout'

export interface SiblingSeen {
  readonly dot: Dot
  readonly value: string
}

export interface OperationRecord {
  readonly id: number
  readonly client: string
  /** The node the client sent the request to (it may forward it). */
  readonly node: string
  readonly kind: OperationKind
  readonly key: string
  /** The value a put wrote (unique per run). */
  readonly value?: string
  /** The context the client sent, decoded; undefined for a blind write. */
  readonly context?: VersionVector
  readonly quorum?: number
  readonly startMs: number
  endMs?: number
  outcome?: Outcome
  errorCode?: string
  /** An acknowledged write's dot (PutResponse.dot). */
  dot?: Dot
  /** The context an acknowledged operation returned, decoded. */
  returnedContext?: VersionVector
  /** An acknowledged get's siblings. */
  siblings?: readonly SiblingSeen[]
}

export interface DotRecord {
  readonly key: string
  readonly dot: Dot
  readonly kind: 'value' | 'tombstone'
  readonly value?: string
  /** The client operation whose request created it; undefined is a bug (checked). */
  readonly operation: number | undefined
  /** Where it was first persisted, and the object persisted there. */
  readonly node: string
  readonly object: StoredObject
}

export interface LedgerProblem {
  readonly invariant: string
  readonly key: string
  readonly detail: string
}

export class DotLedger {
  private readonly records = new Map<string, DotRecord>()
  private readonly byOperation = new Map<number, DotRecord[]>()
  readonly problems: LedgerProblem[] = []

  constructor(
    private readonly operations: AsyncLocalStorage<number>,
    private readonly trace: Trace,
  ) {}

  /** Called with every value a store persists. */
  observe(node: string, keyBytes: Uint8Array, value: Uint8Array): void {
    const key = keyText(keyBytes)
    let object: StoredObject
    try {
      object = decodeObject(value)
    } catch (error) {
      this.problems.push({invariant: 'stored bytes decode', key, detail: `${node} stored bytes that do not decode: ${String(error)}`})
      return
    }
    for (const sibling of object.siblings) {
      const value = sibling.kind === 'value' ? valueText(sibling.value) : undefined
      const known = this.records.get(recordKey(key, sibling.dot))
      if (known !== undefined) {
        if (known.kind !== sibling.kind || known.value !== value) {
          this.problems.push({
            invariant: 'one dot names one write',
            key,
            detail: `dot ${formatDot(sibling.dot)} was created as ${describe(known.kind, known.value)} and ${node} stored it as ${describe(sibling.kind, value)}`,
          })
        }
        continue
      }
      const operation = this.operations.getStore()
      const record: DotRecord = {key, dot: sibling.dot, kind: sibling.kind, ...(value === undefined ? {} : {value}), operation, node, object}
      this.records.set(recordKey(key, sibling.dot), record)
      if (operation !== undefined) this.byOperation.set(operation, [...(this.byOperation.get(operation) ?? []), record])
      this.trace.record(`ledger ${node} key=${key} op${operation ?? '?'} created ${formatDot(sibling.dot)} ${describe(sibling.kind, value)} vv [${formatVersionVector(object.vv)}]`)
    }
  }

  get(key: string, dot: Dot): DotRecord | undefined {
    return this.records.get(recordKey(key, dot))
  }

  /** Every dot created by one operation (a duplicated or re-forwarded request may apply it twice). */
  createdBy(operation: number): readonly DotRecord[] {
    return this.byOperation.get(operation) ?? []
  }

  /** Records whose creating operation is unknown: a dot made outside any client request. */
  orphans(): DotRecord[] {
    return [...this.records.values()].filter((record) => record.operation === undefined)
  }
}

export function keyText(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8')
}

export function valueText(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')
}

export function formatDot(dot: Dot): string {
  return `${dot.node}:${dot.counter}`
}

function describe(kind: 'value' | 'tombstone', value: string | undefined): string {
  return kind === 'tombstone' ? 'tombstone' : `value=${value ?? ''}`
}

function recordKey(key: string, dot: Dot): string {
  return `${key}\0${formatDot(dot)}`
}
