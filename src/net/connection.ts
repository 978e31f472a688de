// One connection of the wire protocol (DESIGN §7), the same on both ends: the hello
// exchange, request/response correlation by request id, one-way messages, handlers for
// the peer's requests, per-request timeouts and aborts, a bound on in-flight requests,
// batched writes, fault injection and graceful close. Anything the peer does wrong closes
// this connection with a logged reason and never throws out of it.
import type {Socket} from 'node:net'
import {assert, type DynError, unreachable} from '../core/errors.js'
import {frameBytesMax as frameBytesMaxDefault} from '../core/limits.js'
import {decodeBody, encodeFrame, FrameDecoder, type Envelope} from './codec.js'
import {closeTimeoutMs, helloTimeoutMs, idleTimeoutMs, inFlightRequestsMax, protocolVersion, requestIdMax, requestTimeoutMsDefault, slowReaderBytesMax} from './constants.js'
import {
  AuthError,
  ConnectionClosedError,
  errorFields,
  InFlightLimitError,
  ProtocolError,
  RemoteError,
  RequestAbortedError,
  refusalError,
  TimeoutError,
  type ErrorFields,
} from './errors.js'
import {noFaults, type FaultFilter} from './faults.js'
import {checkHello, checkProof, isRefusal, makeHello, makeProof, type Hello, type Role, type Side} from './hello.js'
import {closedBeforeHello, looksLikeTlsHandshake, TlsError, tlsClientFailure} from './tls.js'
import {BatchedWriter, type WriterStats} from './writer.js'

/** Frame types the protocol itself uses; handlers cannot take these names. */
export const reservedTypes: ReadonlySet<string> = new Set(['hello', 'auth', 'reply', 'error'])

/** The peer, as it introduced itself in its hello. */
export interface PeerInfo {
  role: Role
  name: string
  /** host:port of the remote end of the socket. */
  address: string
}

export interface HandlerContext {
  peer: PeerInfo
  connection: Connection
  /** The request id, or 0 for a one-way message (whose return value is dropped). */
  requestId: number
}

/** Handles one message type: the return value (or what its promise resolves to) is the
 * reply; a throw becomes an error reply carrying the error's code, message and suggestion. */
export type Handler = (payload: unknown, context: HandlerContext) => unknown

export type HandlerTable = ReadonlyMap<string, Handler>

export interface LogEntry {
  level: 'info' | 'warn'
  message: string
  /** Remote host:port. */
  address: string
  /** The peer's name once it has said hello. */
  peer?: string
  code?: string
}

export type Logger = (entry: LogEntry) => void

/** Who this end is, as said in its hello. */
export interface Identity {
  cluster: string
  role: Role
  name: string
  /** Cluster secret; when set, both ends must prove knowledge of it (DESIGN §11). */
  secret?: Uint8Array
  /** Protocol version to announce; only tests set anything but protocolVersion. */
  version?: number
}

/** Tunables shared by servers and clients; every one defaults to its named constant. */
export interface ConnectionSettings {
  handlers?: HandlerTable
  logger?: Logger
  faults?: FaultFilter
  helloTimeoutMs?: number
  /** Accepted connections only: closed after this long without traffic and with nothing in
   * flight (default idleTimeoutMs; 0: never). */
  idleTimeoutMs?: number
  /** Accepted connections only: reading stops while more written bytes than this wait
   * unread (default slowReaderBytesMax). */
  slowReaderBytesMax?: number
  closeTimeoutMs?: number
  inFlightRequestsMax?: number
  frameBytesMax?: number
  /** Coalesce the frames of one tick into one socket write (default true). */
  batchWrites?: boolean
}

export interface ConnectionOptions extends ConnectionSettings {
  side: Side
  identity: Identity
}

export interface RequestOptions {
  timeoutMs?: number
  signal?: AbortSignal
}

export interface ConnectionStats extends WriterStats {
  framesReceived: number
}

type State = 'hello' | 'auth' | 'open' | 'closing' | 'closed'

interface Pending {
  type: string
  resolve: (reply: unknown) => void
  reject: (error: unknown) => void
  timer: ReturnType<typeof setTimeout>
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

const ignore = (): void => {}

export class Connection {
  /** Resolves with the peer once the hello (and proof) exchange succeeded; rejects with the
   * named reason (ProtocolMismatchError, ClusterMismatchError, AuthError, TimeoutError...). */
  readonly ready: Promise<PeerInfo>
  /** Resolves with the reason once the socket is closed, however that happened. */
  readonly closed: Promise<string>

  private readonly socket: Socket
  private readonly side: Side
  private readonly identity: Identity & {version: number}
  private readonly handlers: HandlerTable
  private readonly logger: Logger
  private readonly faults: FaultFilter
  private readonly frameBytesMax: number
  private readonly inFlightMax: number
  private readonly closeTimeoutMs: number
  private readonly decoder: FrameDecoder
  private readonly writer: BatchedWriter
  private readonly ownHello: Hello
  private readonly address: string

  private state: State = 'hello'
  private peerHello: Hello | undefined = undefined
  private peerInfo: PeerInfo | undefined = undefined
  private nextRequestId = 1
  private readonly pending = new Map<number, Pending>()
  /** Peer requests whose handlers have not replied yet. */
  private incomingInFlight = 0
  private framesReceived = 0
  /** Whether any byte has arrived: a node that closes before saying anything is telling a
   * plaintext client that it speaks only TLS. */
  private receivedAny = false
  /** Whether the socket is a TLS socket (node:tls sets `encrypted`). */
  private readonly encrypted: boolean
  private helloTimer: ReturnType<typeof setTimeout> | undefined
  private closeTimer: ReturnType<typeof setTimeout> | undefined
  private resolveReady!: (peer: PeerInfo) => void
  private rejectReady!: (error: unknown) => void
  private resolveClosed!: (reason: string) => void

  constructor(socket: Socket, options: ConnectionOptions) {
    this.socket = socket
    this.side = options.side
    this.identity = {...options.identity, version: options.identity.version ?? protocolVersion}
    this.handlers = options.handlers ?? new Map()
    for (const type of this.handlers.keys()) assert(!reservedTypes.has(type), `handler for reserved type '${type}'`)
    this.logger = options.logger ?? ignore
    this.faults = options.faults ?? noFaults
    this.frameBytesMax = options.frameBytesMax ?? frameBytesMaxDefault
    this.inFlightMax = options.inFlightRequestsMax ?? inFlightRequestsMax
    this.closeTimeoutMs = options.closeTimeoutMs ?? closeTimeoutMs
    this.decoder = new FrameDecoder(this.frameBytesMax)
    // Only an accepting node stops reading a slow reader (slowReaderBytesMax says why).
    const backlogBytesMax = this.side === 'acceptor' ? (options.slowReaderBytesMax ?? slowReaderBytesMax) : undefined
    this.writer = new BatchedWriter(socket, {batch: options.batchWrites ?? true, ...(backlogBytesMax === undefined ? {} : {backlogBytesMax})})
    this.address = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve
      this.rejectReady = reject
    })
    this.ready.catch(ignore) // callers that never await ready must not see an unhandled rejection
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve))

    this.encrypted = (socket as {encrypted?: unknown}).encrypted === true
    socket.setNoDelay(true) // frames are batched here; Nagle's delay would only add latency
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error) => this.onSocketError(error))
    socket.on('close', () => this.onSocketClose())

    const idleMs = options.idleTimeoutMs ?? idleTimeoutMs
    if (this.side === 'acceptor' && idleMs > 0) {
      socket.setTimeout(idleMs)
      socket.on('timeout', () => this.onIdle(idleMs))
    }

    const helloWaitMs = options.helloTimeoutMs ?? helloTimeoutMs
    this.helloTimer = setTimeout(() => this.refuse(new TimeoutError(`hello from ${this.address}`, helloWaitMs)), helloWaitMs)
    this.ownHello = makeHello({...this.identity, secret: this.identity.secret})
    this.writeFrame({type: 'hello', id: 0, payload: this.ownHello})
  }

  /** The peer once it has said hello. */
  get peer(): PeerInfo | undefined {
    return this.peerInfo
  }

  get isOpen(): boolean {
    return this.state === 'open'
  }

  /** Requests sent on this connection still waiting for a reply. */
  get inFlight(): number {
    return this.pending.size
  }

  /** Bytes written and not yet taken by the peer, and whether reading is paused for them. */
  get backlog(): {bytes: number; readsPaused: boolean} {
    return {bytes: this.writer.backlogBytes, readsPaused: this.writer.paused}
  }

  get stats(): ConnectionStats {
    return {...this.writer.stats, framesReceived: this.framesReceived}
  }

  /** Sends a request and resolves with the peer's reply. Rejects with TimeoutError,
   * RequestAbortedError, RemoteError (the handler failed), InFlightLimitError,
   * FrameTooLargeError or ConnectionClosedError. */
  request(type: string, payload: unknown, options: RequestOptions = {}): Promise<unknown> {
    assert(!reservedTypes.has(type), `request of reserved type '${type}'`)
    return new Promise((resolve, reject) => {
      if (this.state !== 'open') return reject(this.notOpenError())
      if (options.signal?.aborted === true) return reject(new RequestAbortedError(type, options.signal.reason))
      if (this.pending.size >= this.inFlightMax) return reject(new InFlightLimitError(this.inFlightMax))
      const id = this.takeRequestId()
      try {
        this.writeFrame({type, id, payload})
      } catch (error) {
        return reject(error)
      }
      const timeoutMs = options.timeoutMs ?? requestTimeoutMsDefault
      const timer = setTimeout(() => this.settle(id, {error: new TimeoutError(`request '${type}' to ${this.describePeer()}`, timeoutMs)}), timeoutMs)
      const signal = options.signal
      const onAbort = signal === undefined ? undefined : () => this.settle(id, {error: new RequestAbortedError(type, signal.reason)})
      if (signal !== undefined && onAbort !== undefined) signal.addEventListener('abort', onAbort, {once: true})
      this.pending.set(id, {type, resolve, reject, timer, signal, onAbort})
    })
  }

  /** Sends a one-way message: no reply, no delivery guarantee. */
  send(type: string, payload: unknown): void {
    assert(!reservedTypes.has(type), `message of reserved type '${type}'`)
    if (this.state !== 'open') throw this.notOpenError()
    this.writeFrame({type, id: 0, payload})
  }

  /** Graceful close: refuses new requests, lets in-flight requests in both directions
   * finish, then closes the socket. Destroys it after closeTimeoutMs at the latest. */
  close(): Promise<string> {
    if (this.state === 'hello' || this.state === 'auth') this.destroy('closed before the hello completed')
    if (this.state === 'open') {
      this.state = 'closing'
      this.closeTimer = setTimeout(() => this.destroy(`graceful close took over ${this.closeTimeoutMs} ms`), this.closeTimeoutMs)
      this.endIfDrained()
    }
    return this.closed
  }

  /** Closes the socket at once; requests in flight reject with ConnectionClosedError. */
  destroy(reason = 'destroyed'): void {
    this.finish(reason)
    this.socket.destroy()
  }

  /** Before the hello completes, a TLS failure (a node that wants a client certificate
   * says so only after the handshake, in TLS 1.3) becomes the named error of `ready`. */
  private onSocketError(error: Error): void {
    if (this.side === 'connector' && (this.state === 'hello' || this.state === 'auth')) {
      // A reset is not read as a TLS port: a node killed mid-connect resets too, and its
      // CONNECTION_CLOSED lets a client try the next node.
      const failure = this.encrypted ? tlsClientFailure(error, this.address) : undefined
      if (failure !== undefined) this.rejectReady(failure)
    }
    this.finish(`socket error: ${error.message}`)
  }

  private onSocketClose(): void {
    if (this.side === 'connector' && this.state === 'hello' && !this.receivedAny) this.rejectReady(closedBeforeHello(this.address, this.encrypted))
    this.finish(this.state === 'closing' ? 'closed' : 'the peer closed the connection')
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return
    if (!this.receivedAny && this.side === 'acceptor' && looksLikeTlsHandshake(chunk)) {
      return this.protocolFailure(
        new TlsError('the peer began a TLS handshake, and this node does not serve TLS', 'TLS_NOT_CONFIGURED', 'connect without TLS, or give the node "tls" in its configuration (docs/node.md)'),
      )
    }
    this.receivedAny = true
    let bodies: Uint8Array[]
    try {
      bodies = this.decoder.push(chunk)
    } catch (error) {
      return this.protocolFailure(error)
    }
    for (const body of bodies) {
      if (this.isClosed()) return
      this.framesReceived++
      let envelope: Envelope
      try {
        envelope = decodeBody(body)
      } catch (error) {
        return this.protocolFailure(error)
      }
      if (this.isCutOff()) continue
      this.onEnvelope(envelope)
    }
  }

  private onEnvelope(envelope: Envelope): void {
    switch (this.state) {
      case 'hello':
        return this.onHello(envelope)
      case 'auth':
        return this.onAuth(envelope)
      case 'open':
      case 'closing':
        return this.onMessage(envelope)
      case 'closed':
        return
      default:
        return unreachable(this.state)
    }
  }

  private onHello(envelope: Envelope): void {
    if (envelope.type === 'error') return this.onRefused(envelope.payload)
    if (envelope.type !== 'hello') return this.protocolFailure(new ProtocolError(`expected hello, got '${envelope.type}'`, 'EXPECTED_HELLO'))
    const result = checkHello(envelope.payload, {...this.identity, secret: this.identity.secret}, {
      peer: this.address,
      self: `${this.identity.role} '${this.identity.name}'`,
    })
    if (isRefusal(result)) return this.refuse(result.local, result.toPeer)
    this.peerHello = result
    this.peerInfo = {role: result.role, name: result.name, address: this.address}
    const secret = this.identity.secret
    if (secret === undefined) return this.open()
    this.state = 'auth'
    const proof = makeProof({secret, side: this.side, cluster: this.identity.cluster, ownNonce: this.ownHello.nonce, peerNonce: result.nonce})
    this.writeFrame({type: 'auth', id: 0, payload: {proof}})
  }

  private onAuth(envelope: Envelope): void {
    if (envelope.type === 'error') return this.onRefused(envelope.payload)
    if (envelope.type !== 'auth') return this.protocolFailure(new ProtocolError(`expected auth, got '${envelope.type}'`, 'EXPECTED_AUTH'))
    const secret = this.identity.secret
    const peerHello = this.peerHello
    assert(secret !== undefined && peerHello !== undefined, 'auth stage without secret or peer hello')
    const valid = checkProof(envelope.payload, {
      secret,
      peerSide: this.side === 'connector' ? 'acceptor' : 'connector',
      cluster: this.identity.cluster,
      ownNonce: this.ownHello.nonce,
      peerNonce: peerHello.nonce,
    })
    if (!valid) return this.refuse(new AuthError(`${this.describePeer()} has another cluster secret than this end (its proof does not match)`))
    this.open()
  }

  private open(): void {
    clearTimeout(this.helloTimer)
    this.state = 'open'
    assert(this.peerInfo !== undefined, 'open without peer')
    this.resolveReady(this.peerInfo)
  }

  private onMessage(envelope: Envelope): void {
    const {type, id, payload} = envelope
    if (type === 'reply' || type === 'error') {
      if (id === 0 && type === 'error') return this.onPeerClosing(payload)
      if (id === 0) return this.protocolFailure(new ProtocolError('reply without a request id', 'INVALID_ENVELOPE'))
      // A reply to an unknown id answers a request that timed out or was aborted: drop it.
      if (type === 'reply') return this.settle(id, {reply: payload})
      return this.settle(id, {error: new RemoteError(parseErrorFields(payload))})
    }
    if (type === 'hello' || type === 'auth') return this.protocolFailure(new ProtocolError(`'${type}' after the hello exchange`, 'UNEXPECTED_HELLO'))
    const handler = this.handlers.get(type)
    if (handler === undefined) return this.protocolFailure(new ProtocolError(`unknown message type '${type}'`, 'UNKNOWN_TYPE'))
    if (id === 0) return void this.runOneWay(handler, payload)
    if (this.incomingInFlight >= this.inFlightMax) {
      return this.protocolFailure(new ProtocolError(`peer sent more than ${this.inFlightMax} requests in flight`, 'IN_FLIGHT_LIMIT'))
    }
    if (this.state === 'closing') {
      return this.writeFrame({type: 'error', id, payload: errorFields(new ConnectionClosedError(this.identity.name, 'closing; send new requests elsewhere'))})
    }
    void this.runRequest(handler, id, payload)
  }

  private async runRequest(handler: Handler, id: number, payload: unknown): Promise<void> {
    this.incomingInFlight++
    try {
      const reply = await handler(payload, this.handlerContext(id))
      this.writeReply({type: 'reply', id, payload: reply})
    } catch (error) {
      this.writeReply({type: 'error', id, payload: errorFields(error)})
    } finally {
      this.incomingInFlight--
      this.endIfDrained()
    }
  }

  private async runOneWay(handler: Handler, payload: unknown): Promise<void> {
    try {
      await handler(payload, this.handlerContext(0))
    } catch (error) {
      const fields = errorFields(error)
      this.log({level: 'warn', message: `one-way handler failed: ${fields.message}`, code: fields.code})
    }
  }

  private handlerContext(requestId: number): HandlerContext {
    assert(this.peerInfo !== undefined, 'handler before hello')
    return {peer: this.peerInfo, connection: this, requestId}
  }

  /** Writes a reply; a reply too large for a frame becomes an error reply instead. */
  private writeReply(envelope: Envelope): void {
    try {
      this.writeFrame(envelope)
    } catch (error) {
      this.writeFrame({type: 'error', id: envelope.id, payload: errorFields(error)})
    }
  }

  private settle(id: number, outcome: {reply: unknown} | {error: unknown}): void {
    const pending = this.pending.get(id)
    if (pending === undefined) return
    this.pending.delete(id)
    clearTimeout(pending.timer)
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort)
    if ('reply' in outcome) pending.resolve(outcome.reply)
    else pending.reject(outcome.error)
    this.endIfDrained()
  }

  private endIfDrained(): void {
    if (this.state !== 'closing' || this.pending.size > 0 || this.incomingInFlight > 0) return
    // Ends after the batched writes of this tick (the last replies) have been flushed.
    this.writer.end()
  }

  /** No frame either way for idleMs: close gracefully unless a request is still waiting
   * (a slow handler; the quiet span then counts again from the next frame, its reply). */
  private onIdle(idleMs: number): void {
    if (this.state !== 'open' || this.pending.size > 0 || this.incomingInFlight > 0) return
    this.log({level: 'info', message: `closing a connection idle for ${idleMs} ms`, code: 'IDLE'})
    void this.close()
  }

  /** The peer refused us during the hello: reject ready with the matching named error. */
  private onRefused(payload: unknown): void {
    const error = refusalError(parseErrorFields(payload))
    this.log({level: 'warn', message: `refused by peer: ${error.message}`, code: error.code})
    this.rejectReady(error)
    this.destroy(error.message)
  }

  /** The peer sends a connection-level error before it closes: keep its reason. */
  private onPeerClosing(payload: unknown): void {
    const fields = parseErrorFields(payload)
    this.log({level: 'warn', message: `peer closed the connection: ${fields.message}`, code: fields.code})
    this.destroy(`peer reported: ${fields.message}`)
  }

  /** We refuse the peer during the hello: tell it why, then close. */
  private refuse(local: DynError, toPeer: ErrorFields = errorFields(local)): void {
    this.log({level: 'warn', message: `refused connection: ${local.message}`, code: local.code})
    this.rejectReady(local)
    this.closeWithError(toPeer, local.message)
  }

  /** The peer broke the protocol: log, tell it why, close this connection only. */
  private protocolFailure(error: unknown): void {
    const fields = errorFields(error)
    this.log({level: 'warn', message: `closing connection: ${fields.message}`, code: fields.code})
    this.rejectReady(error)
    this.closeWithError(fields, fields.message)
  }

  private closeWithError(fields: ErrorFields, reason: string): void {
    if (this.state === 'closed') return
    try {
      this.writeFrame({type: 'error', id: 0, payload: fields})
    } catch {
      // The error frame is a courtesy; closing matters.
    }
    this.finish(reason)
    // End after the error frame is flushed; destroy then, or after closeTimeoutMs if the
    // peer stops reading and the flush never completes.
    this.writer.end(() => this.socket.destroy())
    setTimeout(() => this.socket.destroy(), this.closeTimeoutMs).unref()
  }

  /** Moves to 'closed' once: clears timers, fails what is pending, reports the reason. */
  private finish(reason: string): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    clearTimeout(this.helloTimer)
    clearTimeout(this.closeTimer)
    const error = new ConnectionClosedError(this.describePeer(), reason)
    this.rejectReady(error)
    for (const id of [...this.pending.keys()]) this.settle(id, {error})
    if (!this.socket.destroyed) this.socket.once('close', () => this.resolveClosed(reason))
    else this.resolveClosed(reason)
  }

  private writeFrame(envelope: Envelope): void {
    if (this.state === 'closed' || this.isCutOff()) return
    this.writer.write(encodeFrame(envelope, this.frameBytesMax))
  }

  /** A method, not a field read, because handlers called in between may close us. */
  private isClosed(): boolean {
    return this.state === 'closed'
  }

  /** True when fault injection cuts this link: frames both ways are dropped. */
  private isCutOff(): boolean {
    const peer = this.peerInfo
    return peer !== undefined && peer.role === 'node' && this.faults.dropsTrafficWith(peer.name)
  }

  private takeRequestId(): number {
    // Ids wrap; with at most inFlightMax requests pending, a reused id is long settled.
    let id = this.nextRequestId
    while (this.pending.has(id)) id = id >= requestIdMax ? 1 : id + 1
    this.nextRequestId = id >= requestIdMax ? 1 : id + 1
    return id
  }

  private notOpenError(): DynError {
    return new ConnectionClosedError(this.describePeer(), this.state === 'closing' ? 'closing' : `not open (${this.state})`)
  }

  private describePeer(): string {
    const peer = this.peerInfo
    return peer === undefined ? this.address : `${peer.role} '${peer.name}' at ${peer.address}`
  }

  private log(entry: Omit<LogEntry, 'address' | 'peer'>): void {
    const peer = this.peerInfo?.name
    this.logger({...entry, address: this.address, ...(peer === undefined ? {} : {peer})})
  }
}

function parseErrorFields(payload: unknown): ErrorFields {
  if (typeof payload === 'object' && payload !== null) {
    const {code, message, suggestion} = payload as Record<string, unknown>
    if (typeof code === 'string' && typeof message === 'string') {
      return {code, message, ...(typeof suggestion === 'string' ? {suggestion} : {})}
    }
  }
  return {code: 'REMOTE_ERROR', message: 'the peer sent an error without a code and message'}
}
