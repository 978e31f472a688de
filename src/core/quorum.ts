// The coordinator's quorum decisions for one get or put (Dynamo §4.5 "sloppy quorum", §4.6
// hinted handoff, §4.7 read repair; DESIGN §3–§5). Modelled on Riak's riak_kv_get_core: this
// module only decides — add a reply, is it enough, what to answer, which replicas need read
// repair — and the caller does the waiting. Time lives in the caller: a reply carries the
// latency it measured, and a timeout is a reply the caller adds when it gives up on a node.
//
// Decision: a get succeeds once R replicas answered ok or not found, a put once W replicas
// acknowledged; either fails as soon as that many can no longer arrive. The outcome is
// monotone: once decided it never changes, and later replies (stragglers) only refine the
// merged object and the repair targets.
import {DynError, assert, exitCodes, unreachable} from './errors.js'
import type {StoredObject, ValueSibling, VersionVector} from './causality.js'
import {contextOf, isFound, liveSiblings, objectsEqual, syncAll} from './causality.js'

/** A replica the coordinator asked: a primary, or a fallback holding a hint for a primary. */
export interface ReplicaTarget {
  readonly node: string
  /** The primary this fallback stands in for (sloppy quorum). */
  readonly fallbackFor?: string
}

interface ReplyBase {
  readonly node: string
  /** Latency the caller measured for this reply, or the time it waited before a timeout. */
  readonly ms: number
  readonly fallbackFor?: string
}

interface ErrorReply extends ReplyBase {
  readonly kind: 'error'
  readonly message: string
}

interface TimeoutReply extends ReplyBase {
  readonly kind: 'timeout'
}

/** A replica's answer to a get. An object of tombstones only is an ok reply. */
export type GetReply =
  | (ReplyBase & {readonly kind: 'ok'; readonly object: StoredObject})
  | (ReplyBase & {readonly kind: 'notFound'})
  | ErrorReply
  | TimeoutReply

/** A replica's answer to a put: `ok` once it persisted the write. */
export type PutReply = (ReplyBase & {readonly kind: 'ok'}) | ErrorReply | TimeoutReply

export type ReplyStatus = 'ok' | 'notFound' | 'tombstone' | 'error' | 'timeout'

/** One replica's answer as people and scripts see it. */
export interface ReplyDetail {
  readonly node: string
  readonly status: ReplyStatus
  readonly ms: number
  readonly fallbackFor?: string
  readonly error?: string
}

export type QuorumOutcome = 'pending' | 'ok' | 'failed'

export interface GetQuorumDetails {
  readonly op: 'get'
  readonly key?: string
  readonly coordinator: string
  readonly n: number
  readonly r: number
  /** True when the quorum was met. */
  readonly ok: boolean
  /** In arrival order. */
  readonly replies: readonly ReplyDetail[]
  /** Replicas asked that have not answered. */
  readonly pending: readonly string[]
  readonly readRepair: readonly string[]
}

export interface PutQuorumDetails {
  readonly op: 'put'
  readonly key?: string
  readonly coordinator: string
  readonly n: number
  readonly w: number
  readonly ok: boolean
  readonly replies: readonly ReplyDetail[]
  readonly pending: readonly string[]
}

export class QuorumParameterError extends DynError {
  constructor(message: string) {
    super(message, {
      code: 'QUORUM_INVALID',
      exitCode: exitCodes.usage,
      suggestion: 'choose R and W between 1 and N (the cluster default is N=3, R=2, W=2)',
    })
  }
}

export class QuorumNotMetError extends DynError {
  constructor(operation: 'get' | 'put', needed: number, replies: readonly ReplyDetail[], asked: number) {
    const quorum = operation === 'get' ? 'R' : 'W'
    const failures = replies.filter((reply) => reply.status === 'error' || reply.status === 'timeout')
    const listed = failures.map((reply) => `${reply.node}: ${reply.error ?? reply.status}`).join(', ')
    const noun = asked === 1 ? 'replica' : 'replicas'
    super(
      `${operation} needed ${quorum}=${needed} answers from ${asked} ${noun} asked, ` +
        `got ${replies.length - failures.length}` + (listed === '' ? '' : ` (${listed})`),
      {
        code: 'QUORUM_NOT_MET',
        exitCode: exitCodes.quorumNotMet,
        suggestion: `retry, check the nodes with \`dyn cluster status\`, or ask for fewer answers with --${quorum.toLowerCase()}`,
      },
    )
  }
}

interface QuorumOptions {
  readonly key?: string
  readonly coordinator: string
  readonly n: number
  /** Every replica the coordinator may ask for this request. */
  readonly replicas: readonly ReplicaTarget[]
  /** The replicas asked first; `ask` adds the others as the coordinator asks them. Default:
   * every replica, at once. A replica not asked yet still counts as one that may answer. */
  readonly asked?: readonly string[]
}

export interface GetQuorumOptions extends QuorumOptions {
  readonly r: number
}

export interface PutQuorumOptions extends QuorumOptions {
  readonly w: number
}

/** Checks N and a quorum size (R or W) given by a person or a config file. */
export function checkQuorumParameters(options: {readonly n: number; readonly name: 'r' | 'w'; readonly value: number}): void {
  const {n, name, value} = options
  if (!Number.isSafeInteger(n) || n < 1) throw new QuorumParameterError(`n=${n} is not valid: it must be a whole number of at least 1`)
  if (!Number.isSafeInteger(value) || value < 1 || value > n) {
    throw new QuorumParameterError(`${name}=${value} is not valid: it must be a whole number between 1 and n=${n}`)
  }
}

type AnyReply = GetReply | PutReply

/** Counting shared by gets and puts: which replicas answered, and whether enough did. */
abstract class QuorumCounter<Reply extends AnyReply> {
  protected readonly received: Reply[] = []
  private readonly targets: ReadonlyMap<string, ReplicaTarget>
  /** Invariant: a subset of the replicas' names, holding every node that replied. */
  private readonly askedNodes: Set<string>

  protected constructor(
    protected readonly options: QuorumOptions,
    protected readonly needed: number,
  ) {
    const names = options.replicas.map((replica) => replica.node)
    assert(options.coordinator.length > 0, 'a coordinator has a name')
    assert(names.every((name) => name.length > 0), 'replicas have names')
    assert(new Set(names).size === names.length, 'replicas are distinct nodes')
    assert(names.length <= options.n, 'a coordinator asks at most N replicas')
    this.targets = new Map(options.replicas.map((replica) => [replica.node, replica]))
    this.askedNodes = new Set(options.asked ?? names)
    for (const node of this.askedNodes) assert(this.targets.has(node), `an asked node is one of the replicas (${node})`)
  }

  /** The coordinator asks one more replica (a get's speculative or replacement read). */
  ask(node: string): void {
    assert(this.targets.has(node), `an asked node is one of the replicas (${node})`)
    this.askedNodes.add(node)
  }

  /** Replicas not asked yet, in the order given. */
  notAsked(): ReplicaTarget[] {
    return this.options.replicas.filter((replica) => !this.askedNodes.has(replica.node))
  }

  /** Whether a reply counts towards the quorum. */
  protected abstract counts(reply: Reply): boolean

  /** Records a reply. The first reply of a node is the one that counts: a late answer after
   * the caller recorded a timeout is ignored (returns false). */
  addReply(reply: Reply): boolean {
    const target = this.targets.get(reply.node)
    assert(target !== undefined && this.askedNodes.has(reply.node), `a reply comes from a replica that was asked (${reply.node})`)
    assert(Number.isFinite(reply.ms) && reply.ms >= 0, 'a reply latency is a non-negative number of ms')
    if (this.received.some((earlier) => earlier.node === reply.node)) return false
    const fallbackFor = reply.fallbackFor ?? target.fallbackFor
    this.received.push(fallbackFor === undefined ? reply : {...reply, fallbackFor})
    return true
  }

  outcome(): QuorumOutcome {
    const successes = this.received.filter((reply) => this.counts(reply)).length
    if (successes >= this.needed) return 'ok'
    const outstanding = this.options.replicas.length - this.received.length
    return successes + outstanding < this.needed ? 'failed' : 'pending'
  }

  isDone(): boolean {
    return this.outcome() !== 'pending'
  }

  /** The replicas asked that have not answered yet, in the order of the replicas. */
  pending(): string[] {
    const answered = new Set(this.received.map((reply) => reply.node))
    return this.options.replicas.map((replica) => replica.node).filter((node) => this.askedNodes.has(node) && !answered.has(node))
  }

  protected replyDetails(): ReplyDetail[] {
    return this.received.map(replyDetail)
  }

  protected keyField(): {key?: string} {
    return this.options.key === undefined ? {} : {key: this.options.key}
  }
}

function replyDetail(reply: AnyReply): ReplyDetail {
  const base = {node: reply.node, status: replyStatus(reply), ms: reply.ms}
  const withFallback = reply.fallbackFor === undefined ? base : {...base, fallbackFor: reply.fallbackFor}
  return reply.kind === 'error' ? {...withFallback, error: reply.message} : withFallback
}

function replyStatus(reply: AnyReply): ReplyStatus {
  switch (reply.kind) {
    case 'ok':
      return 'object' in reply && !isFound(reply.object) ? 'tombstone' : 'ok'
    case 'notFound':
    case 'error':
    case 'timeout':
      return reply.kind
    default:
      return unreachable(reply)
  }
}

export interface GetResult {
  /** True when R replicas answered. */
  readonly ok: boolean
  /** Sync of every object received; undefined when no replica had the key. */
  readonly object: StoredObject | undefined
  /** Live siblings of the merged object; none means not found. */
  readonly siblings: readonly ValueSibling[]
  readonly found: boolean
  /** The merged version vector: a deleted key still returns its tombstone's context. */
  readonly context: VersionVector
  readonly details: GetQuorumDetails
}

/** Decides one get. */
export class GetQuorum extends QuorumCounter<GetReply> {
  constructor(options: GetQuorumOptions) {
    checkQuorumParameters({n: options.n, name: 'r', value: options.r})
    super(options, options.r)
  }

  protected counts(reply: GetReply): boolean {
    return reply.kind === 'ok' || reply.kind === 'notFound'
  }

  /** The sync of `received` as of its length when computed: a get reads it several times
   * (the answer, its details, read repair) and replies only ever add to `received`. */
  private mergedOf: {readonly replies: number; readonly object: StoredObject | undefined} | undefined = undefined

  /** Sync of every object received so far. */
  merged(): StoredObject | undefined {
    if (this.mergedOf?.replies !== this.received.length) {
      this.mergedOf = {replies: this.received.length, object: syncAll(this.received.map((reply) => (reply.kind === 'ok' ? reply.object : undefined)))}
    }
    return this.mergedOf.object
  }

  /** Replicas that answered not found, or whose object lacks something the merged one has.
   * Valid at any time; replicas that failed or have not answered are not included. */
  repairTargets(): string[] {
    const merged = this.merged()
    if (merged === undefined) return []
    const stale = new Set(
      this.received
        .filter((reply) => reply.kind === 'notFound' || (reply.kind === 'ok' && !objectsEqual(reply.object, merged)))
        .map((reply) => reply.node),
    )
    return this.options.replicas.map((replica) => replica.node).filter((node) => stale.has(node))
  }

  /** `readRepair` defaults to the current repair targets; pass the nodes actually repaired. */
  details(options: {readonly readRepair?: readonly string[]} = {}): GetQuorumDetails {
    return {
      op: 'get',
      ...this.keyField(),
      coordinator: this.options.coordinator,
      n: this.options.n,
      r: this.needed,
      ok: this.outcome() === 'ok',
      replies: this.replyDetails(),
      pending: this.pending(),
      readRepair: options.readRepair ?? this.repairTargets(),
    }
  }

  /** The answer once decided (asserts isDone()). */
  result(): GetResult {
    assert(this.isDone(), 'a get result is read once the quorum is decided')
    const object = this.merged()
    const siblings = liveSiblings(object)
    return {ok: this.outcome() === 'ok', object, siblings, found: siblings.length > 0, context: contextOf(object), details: this.details()}
  }

  /** The error to answer with when the quorum failed; undefined otherwise. */
  error(): QuorumNotMetError | undefined {
    if (this.outcome() !== 'failed') return undefined
    return new QuorumNotMetError('get', this.needed, this.replyDetails(), this.options.replicas.length)
  }
}

export interface PutQuorumResult {
  /** True when W replicas acknowledged. */
  readonly ok: boolean
  readonly details: PutQuorumDetails
}

/** Decides one put (or delete). */
export class PutQuorum extends QuorumCounter<PutReply> {
  constructor(options: PutQuorumOptions) {
    checkQuorumParameters({n: options.n, name: 'w', value: options.w})
    super(options, options.w)
  }

  protected counts(reply: PutReply): boolean {
    return reply.kind === 'ok'
  }

  details(): PutQuorumDetails {
    return {
      op: 'put',
      ...this.keyField(),
      coordinator: this.options.coordinator,
      n: this.options.n,
      w: this.needed,
      ok: this.outcome() === 'ok',
      replies: this.replyDetails(),
      pending: this.pending(),
    }
  }

  result(): PutQuorumResult {
    assert(this.isDone(), 'a put result is read once the quorum is decided')
    return {ok: this.outcome() === 'ok', details: this.details()}
  }

  error(): QuorumNotMetError | undefined {
    if (this.outcome() !== 'failed') return undefined
    return new QuorumNotMetError('put', this.needed, this.replyDetails(), this.options.replicas.length)
  }
}

export interface QuorumOverlap {
  readonly n: number
  readonly r: number
  readonly w: number
  /** R + W > N: every read quorum of primaries meets the last write quorum. */
  readonly overlapping: boolean
  readonly summary: string
}

/** Describes N/R/W for display; DESIGN §4 reports R + W > N, it does not require it. */
export function describeQuorum(options: {readonly n: number; readonly r: number; readonly w: number}): QuorumOverlap {
  const {n, r, w} = options
  checkQuorumParameters({n, name: 'r', value: r})
  checkQuorumParameters({n, name: 'w', value: w})
  const overlapping = r + w > n
  const summary = overlapping
    ? `R + W > N (${r} + ${w} > ${n}): a read reaches at least one replica of the last acknowledged write, ` +
      'unless fallbacks stood in for primaries (sloppy quorum)'
    : `R + W <= N (${r} + ${w} <= ${n}): a read may miss the last acknowledged write until ` +
      'read repair or anti-entropy brings it to the replicas read'
  return {n, r, w, overlapping, summary}
}
