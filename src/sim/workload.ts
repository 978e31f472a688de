// Simulated clients: each runs a sequence of gets, puts and deletes against random nodes over
// the simulated network, on a small key space so that writes conflict. Like a real client it
// remembers the context of what it last read or wrote per key and usually writes with it;
// sometimes it writes with a stale context or blind, and sometimes asks for another R or W.
// Every operation and its outcome goes into the history the checker reads (ledger.ts).
import type {AsyncLocalStorage} from 'node:async_hooks'
import {Buffer} from 'node:buffer'
import {decodeContext, formatVersionVector} from '../core/causality.js'
import {DynError} from '../core/errors.js'
import {randomFloat, randomInt, randomPick, type Random} from '../core/random.js'
import type {GetResponse, PutResponse} from '../core/protocol.js'
import type {Transport} from '../node/ports.js'
import {formatDot, valueText, type OperationKind, type OperationRecord} from './ledger.js'
import type {Scheduler} from './scheduler.js'
import type {Trace} from './trace.js'

export interface WorkloadShape {
  readonly keys: readonly string[]
  readonly nodes: readonly string[]
  readonly n: number
  readonly cluster: string
  readonly operationsPerClient: number
  /** Smallest R or W a client asks for when it asks for another than the cluster's (1..N). */
  readonly quorumMin?: number
  /** Pause between two operations of one client: uniform 0..thinkMsMax. */
  readonly thinkMsMax: number
  /** How long a client waits for an answer; past it the outcome is a timeout. */
  readonly clientTimeoutMs: number
}

/** Shared by the clients of one run: the history and the operation numbering. */
export class History {
  readonly operations: OperationRecord[] = []

  constructor(
    private readonly scheduler: Scheduler,
    readonly trace: Trace,
  ) {}

  begin(fields: Omit<OperationRecord, 'id' | 'startMs'>): OperationRecord {
    const record: OperationRecord = {...fields, id: this.operations.length + 1, startMs: this.scheduler.nowMs()}
    this.operations.push(record)
    this.trace.record(`op${record.id} ${describeOperation(record)}: start`)
    return record
  }

  end(record: OperationRecord, outcome: {outcome: 'ok' | 'failed' | 'timeout'; errorCode?: string}): void {
    record.endMs = this.scheduler.nowMs()
    record.outcome = outcome.outcome
    if (outcome.errorCode !== undefined) record.errorCode = outcome.errorCode
    const dot = record.dot === undefined ? '' : ` dot ${formatDot(record.dot)}`
    const siblings = record.siblings === undefined ? '' : ` siblings [${record.siblings.map((s) => `${formatDot(s.dot)}=${s.value}`).join(', ')}]`
    this.trace.record(`op${record.id} key=${record.key} ${outcome.outcome}${outcome.errorCode === undefined ? '' : ` ${outcome.errorCode}`}${dot}${siblings}`)
  }
}

export function describeOperation(record: OperationRecord): string {
  const value = record.value === undefined ? '' : ` value=${record.value}`
  const context = record.context === undefined ? ' blind' : ` ctx [${formatVersionVector(record.context)}]`
  const quorum = record.quorum === undefined ? '' : ` ${record.kind === 'get' ? 'r' : 'w'}=${record.quorum}`
  return `${record.client} ${record.kind} key=${record.key}${value}${record.kind === 'get' ? '' : context}${quorum} via ${record.node}`
}

export interface SimClientOptions {
  readonly name: string
  readonly random: Random
  readonly transport: Transport
  readonly scheduler: Scheduler
  readonly history: History
  readonly operations: AsyncLocalStorage<number>
  readonly shape: WorkloadShape
}

export class SimClient {
  /** Per key, every context this client was given, oldest first. */
  private readonly contexts = new Map<string, string[]>()

  constructor(private readonly options: SimClientOptions) {}

  async run(): Promise<void> {
    const {shape, random, scheduler} = this.options
    for (let step = 0; step < shape.operationsPerClient; step++) {
      await scheduler.sleep(randomInt(random, shape.thinkMsMax + 1))
      await this.step()
    }
  }

  private async step(): Promise<void> {
    const {random, shape} = this.options
    const key = randomPick(random, shape.keys)
    const roll = randomFloat(random)
    const kind: OperationKind = roll < 0.4 ? 'get' : roll < 0.88 ? 'put' : 'delete'
    const node = randomPick(random, shape.nodes)
    const quorumMin = shape.quorumMin ?? 1
    const quorum = randomFloat(random) < 0.3 ? quorumMin + randomInt(random, shape.n - quorumMin + 1) : undefined
    if (kind === 'get') await this.get({key, node, quorum})
    else await this.write({kind, key, node, quorum})
  }

  async get(request: {key: string; node: string; quorum: number | undefined}): Promise<void> {
    const {history} = this.options
    const record = history.begin({client: this.options.name, node: request.node, kind: 'get', key: request.key, ...quorumField(request.quorum)})
    const payload = {key: Buffer.from(request.key), ...(request.quorum === undefined ? {} : {r: request.quorum})}
    const response = await this.send(record, () => this.options.transport.request(request.node, 'kv.get', payload, {timeoutMs: this.options.shape.clientTimeoutMs}))
    if (response === undefined) return
    if (!response.ok) return history.end(record, {outcome: 'failed', errorCode: response.error.code})
    record.siblings = response.siblings.map((sibling) => ({dot: sibling.dot, value: valueText(sibling.value)}))
    this.remember(record, response.context)
    history.end(record, {outcome: 'ok'})
  }

  private async write(request: {kind: 'put' | 'delete'; key: string; node: string; quorum: number | undefined}): Promise<void> {
    const {history, shape} = this.options
    const token = this.chooseContext(request.key, request.kind)
    const value = request.kind === 'put' ? `${this.options.name}.${history.operations.length + 1}` : undefined
    const record = history.begin({
      client: this.options.name,
      node: request.node,
      kind: request.kind,
      key: request.key,
      ...(value === undefined ? {} : {value}),
      ...(token === undefined ? {} : {context: decodeContext(token, {cluster: shape.cluster})}),
      ...quorumField(request.quorum),
    })
    const base = {key: Buffer.from(request.key), ...(token === undefined ? {} : {context: token}), ...(request.quorum === undefined ? {} : {w: request.quorum})}
    const options = {timeoutMs: shape.clientTimeoutMs}
    const response = await this.send(record, () =>
      value === undefined
        ? this.options.transport.request(request.node, 'kv.delete', base, options)
        : this.options.transport.request(request.node, 'kv.put', {...base, value: Buffer.from(value)}, options),
    )
    if (response === undefined) return
    if (!response.ok) return history.end(record, {outcome: 'failed', errorCode: response.error.code})
    record.dot = response.dot
    this.remember(record, response.context)
    history.end(record, {outcome: 'ok'})
  }

  /** Sends under the operation's number (so the nodes' effects are attributed to it); a
   * transport failure ends the operation as a timeout and resolves undefined. */
  private async send<R extends GetResponse | PutResponse>(record: OperationRecord, request: () => Promise<R>): Promise<R | undefined> {
    try {
      return await this.options.operations.run(record.id, request)
    } catch (error) {
      if (!(error instanceof DynError)) throw error
      this.options.history.end(record, {outcome: 'timeout', errorCode: error.code})
      return undefined
    }
  }

  /** Usually the latest context; sometimes a stale one or none (a blind write). */
  private chooseContext(key: string, kind: 'put' | 'delete'): string | undefined {
    const seen = this.contexts.get(key) ?? []
    const roll = randomFloat(this.options.random)
    const blindShare = kind === 'put' ? 0.2 : 0.1
    if (seen.length === 0 || roll < blindShare) return undefined
    if (roll < blindShare + 0.15) return randomPick(this.options.random, seen)
    return seen[seen.length - 1]
  }

  private remember(record: OperationRecord, context: string): void {
    record.returnedContext = decodeContext(context, {cluster: this.options.shape.cluster})
    const seen = this.contexts.get(record.key) ?? []
    // A bounded history: stale contexts come from the last few only.
    this.contexts.set(record.key, [...seen, context].slice(-contextsKept))
  }
}

/** Contexts a client keeps per key to pick a stale one from. */
const contextsKept = 8

function quorumField(quorum: number | undefined): {quorum?: number} {
  return quorum === undefined ? {} : {quorum}
}
