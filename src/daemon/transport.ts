// The Transport port (src/node/ports.ts) over the wire protocol (src/net, DESIGN §7): one
// connection per peer, opened on the first request to it and opened again on the next
// request after it failed or closed. Each request is bounded by its timeout, connect and
// hello included, so a coordinator never waits longer than requestTimeoutMs on a replica.
import {DynError} from '../core/errors.js'
import type {MessageType, RequestOf, ResponseOf} from '../core/protocol.js'
import {connect, TimeoutError, type Connection, type FaultFilter, type Logger, type TlsClientSettings} from '../net/index.js'
import type {RequestOptions, Transport} from '../node/ports.js'
import {splitAddress, type HostPort} from './config.js'

export class UnknownPeerError extends DynError {
  constructor(peer: string) {
    super(`node ${peer} is not a member of this cluster`, {
      code: 'UNKNOWN_PEER',
      suggestion: 'give every node the same member list',
    })
  }
}

export class BadResponseError extends DynError {
  constructor(peer: string, type: string) {
    super(`node ${peer} answered '${type}' with a malformed response`, {
      code: 'BAD_RESPONSE',
      suggestion: 'run the same dyn version on every node of the cluster',
    })
  }
}

export interface NetTransportOptions {
  cluster: string
  /** This node's name, sent in the hello with role 'node'. */
  name: string
  /** Wire address of every peer by name. */
  addresses: ReadonlyMap<string, string>
  secret?: Uint8Array
  /** Connect to peers with TLS, presenting the node's certificate (DESIGN §11). */
  tls?: TlsClientSettings
  logger?: Logger
  faults?: FaultFilter
}

export class NetTransport implements Transport {
  private readonly options: NetTransportOptions
  /** The connection (or the connect under way) to each peer; removed when it fails or closes. */
  private readonly connections = new Map<string, Promise<Connection>>()
  /** The connections of `connections` that completed their hello, until they close. */
  private readonly open = new Map<string, Connection>()
  private closed = false

  constructor(options: NetTransportOptions) {
    this.options = options
  }

  /** Peer connections currently open. */
  get openConnections(): number {
    return this.connections.size
  }

  async request<T extends MessageType>(peer: string, type: T, payload: RequestOf<T>, options: RequestOptions): Promise<ResponseOf<T>> {
    const open = this.open.get(peer)
    let reply: unknown
    if (open?.isOpen === true) {
      // The common case: no connect to wait for, so no deadline of its own to arm.
      reply = await open.request(type, payload, {timeoutMs: options.timeoutMs})
    } else {
      const startedMs = performance.now()
      const connection = await withDeadline(this.connectionTo(peer), options.timeoutMs, () => new TimeoutError(`connect to node ${peer}`, options.timeoutMs))
      const remainingMs = Math.max(1, options.timeoutMs - (performance.now() - startedMs))
      reply = await connection.request(type, payload, {timeoutMs: remainingMs})
    }
    if (!isResponse(reply)) throw new BadResponseError(peer, type)
    return reply as ResponseOf<T>
  }

  /** Closes every peer connection gracefully. */
  async close(): Promise<void> {
    this.closed = true
    const connections = await Promise.allSettled(this.connections.values())
    this.connections.clear()
    this.open.clear()
    await Promise.all(connections.map((result) => (result.status === 'fulfilled' ? result.value.close() : undefined)))
  }

  private connectionTo(peer: string): Promise<Connection> {
    if (this.closed) return Promise.reject(new DynError('the node is stopping', {code: 'CONNECTION_CLOSED'}))
    const existing = this.connections.get(peer)
    if (existing !== undefined) return existing
    const address = this.options.addresses.get(peer)
    const target = address === undefined ? undefined : splitAddress(address)
    if (target === undefined) return Promise.reject(new UnknownPeerError(peer))
    const connecting = this.connect(target)
    this.connections.set(peer, connecting)
    const forget = (): void => {
      if (this.connections.get(peer) !== connecting) return
      this.connections.delete(peer)
      this.open.delete(peer)
    }
    connecting.then((connection) => {
      if (this.connections.get(peer) === connecting) this.open.set(peer, connection)
      void connection.closed.then(forget)
    }, forget)
    return connecting
  }

  private connect(target: HostPort): Promise<Connection> {
    const {cluster, name, secret, tls, logger, faults} = this.options
    return connect({
      ...(tls === undefined ? {} : {tls}),
      host: target.host,
      port: target.port,
      identity: {cluster, role: 'node', name, ...(secret === undefined ? {} : {secret})},
      ...(logger === undefined ? {} : {logger}),
      ...(faults === undefined ? {} : {faults}),
    })
  }
}

/** Only the shape every response shares: the node code reads the rest. */
function isResponse(reply: unknown): boolean {
  if (typeof reply !== 'object' || reply === null) return false
  const {ok, error} = reply as {ok?: unknown; error?: unknown}
  if (ok === true) return true
  if (ok !== false || typeof error !== 'object' || error === null) return false
  const {code, message} = error as {code?: unknown; message?: unknown}
  return typeof code === 'string' && typeof message === 'string'
}

/** Rejects with `onTimeout()` when `work` has not settled within `timeoutMs`; `work` itself
 * goes on (a connect that completes late is kept for the next request). */
function withDeadline<T>(work: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), timeoutMs)
    work.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
