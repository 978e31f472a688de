// The client library (DESIGN §3, §4): get, put and delete against any node of a cluster.
//
// Routing is Dynamo's client-driven coordination (Dynamo §4.5, §6.4): the client fetches
// the ring once (ring.get) and sends each request straight to the first primary of the
// key's preference list, which coordinates it, instead of to an arbitrary node that would
// forward it; Dynamo measured this halving latencies (Table 2). When a node cannot be
// reached the request goes to the next node of the list. With `routing: 'direct'` every
// request goes to the given nodes in order and the node that receives it forwards it.
//
// Errors: a node's failure response (quorum not met, bad context...) is thrown as
// NodeFailureError carrying the node's code, exit code, suggestion and quorum details;
// transport failures stay the net's named errors (TimeoutError, ConnectError...), or
// NoNodeReachableError once every candidate failed to connect.
import {DynError} from '../core/errors.js'
import {
  NodeFailureError,
  type ConflictsResponse,
  type GetResponse,
  type MessageType,
  type RingResponse,
  type PutResponse,
  type RequestOf,
  type WireError,
} from '../core/protocol.js'
import {preferenceList, ringFromJson, type Ring} from '../core/ring.js'
import type {TlsClientSettings} from '../net/index.js'
import {clientRequestTimeoutMsDefault, routeCandidatesMax} from './constants.js'
import {BadResponseError, NoNodeReachableError} from './errors.js'
import {clientIdentity} from './identity.js'
import {ConnectionPool} from './pool.js'
import {clientTls} from './tls.js'

export type Routing = 'partition-aware' | 'direct'

export interface DynClientOptions {
  /** HOST:PORT of nodes to ask first: for the ring, or for every request when direct. */
  readonly seeds: readonly string[]
  /** Cluster name, checked by every node's hello. */
  readonly cluster: string
  readonly routing?: Routing
  /** Label sent in the hello (nodes log it). */
  readonly name?: string
  /** Default per-request timeout. */
  readonly timeoutMs?: number
  readonly connectTimeoutMs?: number
  /** Cluster secret (DESIGN §11); default: the file DYN_SECRET_FILE names, if set. */
  readonly secret?: Uint8Array
  /** TLS settings (DESIGN §11); default: the command's --tls-* flags or the DYN_TLS_*
   * variables (tls.ts clientTls); null: plaintext whatever those say. */
  readonly tls?: TlsClientSettings | null
}

export interface CallOptions {
  readonly signal?: AbortSignal
  readonly timeoutMs?: number
}

export type Key = Uint8Array | string

type GetOk = Extract<GetResponse, {ok: true}>
type PutOk = Extract<PutResponse, {ok: true}>
type ConflictsOk = Extract<ConflictsResponse, {ok: true}>

/** Where an answer came from: the address the client sent the request to. */
interface Via {
  readonly address: string
}

export type GetResult = Omit<GetOk, 'ok'> & Via
export type PutResult = Omit<PutOk, 'ok'> & Via
/** One page of a node's conflicted keys (kv.conflicts). */
export type ConflictsResult = Omit<ConflictsOk, 'ok'> & Via

/** The ring and member addresses, as a node answers ring.get. */
export type RingInfo = Omit<Extract<RingResponse, {ok: true}>, 'ok'>

/** Errors after which the next node is tried: the request never reached a node (connect
 * refused or timed out). Anything else (a cluster or protocol mismatch, an abort) would
 * fail the same way everywhere, or was asked for. */
const unreachableCodes: ReadonlySet<string> = new Set(['CONNECT_FAILED', 'TIMEOUT', 'CONNECTION_CLOSED'])

/** Errors after which a read (get, ring) is retried on the next node although the request
 * may have reached the node: a read has no effect to duplicate. A write is not retried
 * then, because a second coordinator would store it twice as two siblings. */
const readRetryCodes: ReadonlySet<string> = new Set(['TIMEOUT', 'CONNECTION_CLOSED'])

const readTypes: ReadonlySet<MessageType> = new Set(['kv.get', 'ring.get'])

export class DynClient {
  private readonly options: DynClientOptions
  private readonly pool: ConnectionPool
  private ringInfo: Promise<RingInfo> | undefined = undefined

  constructor(options: DynClientOptions) {
    this.options = options
    this.pool = new ConnectionPool({
      identity: clientIdentity({cluster: options.cluster, name: options.name ?? `dyn-client-${process.pid}`, secret: options.secret}),
      ...(options.connectTimeoutMs === undefined ? {} : {connectTimeoutMs: options.connectTimeoutMs}),
      tls: options.tls === null ? undefined : clientTls(options.tls),
    })
  }

  get cluster(): string {
    return this.options.cluster
  }

  /** The ring and member addresses, fetched once from the first seed that answers. */
  ring(options: CallOptions = {}): Promise<RingInfo> {
    if (this.ringInfo === undefined) {
      const fetching = this.fetchRing(options)
      this.ringInfo = fetching
      fetching.catch(() => {
        if (this.ringInfo === fetching) this.ringInfo = undefined
      })
    }
    return this.ringInfo
  }

  /** The addresses a request for `key` is offered to, in order. */
  async route(key: Key, options: CallOptions = {}): Promise<string[]> {
    if ((this.options.routing ?? 'partition-aware') === 'direct') return [...this.options.seeds]
    const info = await this.ring(options)
    const list = preferenceList(info.ring, {key: toBytes(key)}, {n: info.n})
    const addresses = new Map(info.nodes.map((node) => [node.name, node.address]))
    const ordered = [...list.primaries, ...list.fallbacks].flatMap((name) => addresses.get(name) ?? [])
    return unique([...ordered, ...this.options.seeds]).slice(0, Math.max(routeCandidatesMax, this.options.seeds.length))
  }

  async get(key: Key, options: CallOptions & {r?: number} = {}): Promise<GetResult> {
    const bytes = toBytes(key)
    const request = {key: bytes, ...(options.r === undefined ? {} : {r: options.r})}
    const {address, response} = await this.send('kv.get', request, await this.route(bytes, options), options)
    const ok = checkResponse<GetOk>('kv.get', address, response, ['found', 'siblings', 'context', 'quorum'])
    return {found: ok.found, siblings: ok.siblings, context: ok.context, quorum: ok.quorum, address}
  }

  async put(key: Key, value: Uint8Array | string, options: CallOptions & {context?: string; w?: number} = {}): Promise<PutResult> {
    const bytes = toBytes(key)
    const request = {key: bytes, value: toBytes(value), ...writeFields(options)}
    const {address, response} = await this.send('kv.put', request, await this.route(bytes, options), options)
    return putResult(checkResponse<PutOk>('kv.put', address, response, ['context', 'dot', 'siblings', 'quorum']), address)
  }

  /** Writes a tombstone. Without a context the coordinator reads the key first, so the
   * tombstone covers what a quorum holds. */
  async delete(key: Key, options: CallOptions & {context?: string; w?: number} = {}): Promise<PutResult> {
    const bytes = toBytes(key)
    const request = {key: bytes, ...writeFields(options)}
    const {address, response} = await this.send('kv.delete', request, await this.route(bytes, options), options)
    return putResult(checkResponse<PutOk>('kv.delete', address, response, ['context', 'dot', 'siblings', 'quorum']), address)
  }

  /** A page of the keys that the node at `address` holds with more than one sibling, in key
   * byte order, strictly after `after`: that node's own copies, not the cluster's. */
  async conflicts(address: string, page: {after?: Key; limit: number}, options: CallOptions = {}): Promise<ConflictsResult> {
    const request = {limit: page.limit, ...(page.after === undefined ? {} : {after: toBytes(page.after)})}
    const {response} = await this.send('kv.conflicts', request, [address], options)
    return conflictsResult(checkResponse<ConflictsOk>('kv.conflicts', address, response, ['node', 'keys', 'more']), address)
  }

  async close(): Promise<void> {
    await this.pool.close()
  }

  private async fetchRing(options: CallOptions): Promise<RingInfo> {
    const {address, response} = await this.send('ring.get', {}, [...this.options.seeds], options)
    const ok = checkResponse<RingInfo & {ok: true}>('ring.get', address, response, ['cluster', 'ring', 'nodes', 'n', 'r', 'w'])
    let ring: Ring
    try {
      ring = ringFromJson(ok.ring)
    } catch (error) {
      throw new BadResponseError('ring.get', address, error instanceof Error ? error.message : String(error))
    }
    const nodes = ok.nodes
    if (!Array.isArray(nodes) || !nodes.every((node) => typeof node?.name === 'string' && typeof node?.address === 'string')) {
      throw new BadResponseError('ring.get', address, 'nodes is not a list of {name, address}')
    }
    return {cluster: ok.cluster, ring, nodes: nodes.map((node) => ({name: node.name, address: node.address})), n: ok.n, r: ok.r, w: ok.w}
  }

  /** Sends to the first candidate that can be reached; see unreachableCodes. */
  private async send<T extends MessageType>(
    type: T,
    payload: RequestOf<T>,
    candidates: readonly string[],
    options: CallOptions,
  ): Promise<{address: string; response: unknown}> {
    const attempts: {address: string; message: string}[] = []
    for (const address of candidates) {
      let connection
      try {
        connection = await this.pool.get(address, options.signal)
      } catch (error) {
        if (!isCode(error, unreachableCodes)) throw error
        attempts.push({address, message: (error as Error).message})
        continue
      }
      try {
        const response = await connection.request(type, payload, {
          timeoutMs: options.timeoutMs ?? this.options.timeoutMs ?? clientRequestTimeoutMsDefault,
          ...(options.signal === undefined ? {} : {signal: options.signal}),
        })
        return {address, response}
      } catch (error) {
        if (!(readTypes.has(type) && isCode(error, readRetryCodes))) throw error
        attempts.push({address, message: (error as Error).message})
      }
    }
    throw new NoNodeReachableError(type, attempts)
  }
}

function isCode(error: unknown, codes: ReadonlySet<string>): boolean {
  return error instanceof DynError && codes.has(error.code)
}

/** A success response with `fields`, or the node's failure thrown as NodeFailureError. */
function checkResponse<T>(type: string, address: string, response: unknown, fields: readonly string[]): T {
  if (typeof response !== 'object' || response === null || !('ok' in response)) {
    throw new BadResponseError(type, address, 'not a response object')
  }
  const record = response as Record<string, unknown>
  if (record.ok === false) throw new NodeFailureError(checkWireError(type, address, record.error))
  for (const field of fields) if (!(field in record)) throw new BadResponseError(type, address, `${field} is missing`)
  return response as T
}

function checkWireError(type: string, address: string, error: unknown): WireError {
  const record = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>
  if (typeof record.code !== 'string' || typeof record.message !== 'string' || typeof record.exitCode !== 'number') {
    throw new BadResponseError(type, address, 'the error lacks code, message or exit code')
  }
  return error as WireError
}

function putResult(ok: PutOk, address: string): PutResult {
  return {context: ok.context, dot: ok.dot, siblings: ok.siblings, quorum: ok.quorum, ...(ok.warning === undefined ? {} : {warning: ok.warning}), address}
}

function conflictsResult(ok: ConflictsOk, address: string): ConflictsResult {
  const keys: unknown = ok.keys
  if (typeof ok.node !== 'string' || typeof ok.more !== 'boolean' || !Array.isArray(keys) || !keys.every(isConflictView)) {
    throw new BadResponseError('kv.conflicts', address, 'expected {node, keys: [{key, partition, siblings, dots}], more}')
  }
  return {node: ok.node, keys: ok.keys, more: ok.more, address}
}

function isConflictView(entry: unknown): boolean {
  const record = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>
  const dots: unknown = record.dots
  return (
    record.key instanceof Uint8Array &&
    typeof record.partition === 'number' &&
    typeof record.siblings === 'number' &&
    Array.isArray(dots) &&
    dots.every((dot: unknown) => {
      const fields = (typeof dot === 'object' && dot !== null ? dot : {}) as Record<string, unknown>
      return typeof fields.node === 'string' && typeof fields.counter === 'number' && (fields.kind === 'value' || fields.kind === 'tombstone')
    })
  )
}

function writeFields(options: {context?: string; w?: number}): {context?: string; w?: number} {
  return {...(options.context === undefined ? {} : {context: options.context}), ...(options.w === undefined ? {} : {w: options.w})}
}

const encoder = new TextEncoder()

/** Keys and values are bytes; a string is its UTF-8 encoding. */
export function toBytes(value: Uint8Array | string): Uint8Array {
  return typeof value === 'string' ? encoder.encode(value) : value
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)]
}
