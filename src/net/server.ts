// The TCP server of the wire protocol (DESIGN §7): one port for clients and peers. It
// accepts connections (with TLS settings, TLS connections only: DESIGN §11), runs the
// hello on each, dispatches requests to the handler table and closes gracefully (stop
// accepting, let in-flight requests finish) for SIGTERM.
import {createServer, type Server, type Socket} from 'node:net'
import {assert} from '../core/errors.js'
import {Connection, reservedTypes, type ConnectionSettings, type Handler, type Identity, type Logger} from './connection.js'
import {encodeFrame} from './codec.js'
import {closeTimeoutMs, connectionsMax, helloTimeoutMs, tlsHandshakesPendingMax} from './constants.js'
import {ListenError, PortInUseError} from './errors.js'
import {tlsVersionMin, type TlsServerSettings} from './tls.js'

export interface ServerOptions extends Omit<ConnectionSettings, 'handlers'> {
  identity: Identity
  /** Called with each connection whose hello succeeded. */
  onConnection?: (connection: Connection) => void
  /** Connections kept open at once; default connectionsMax. */
  connectionsMax?: number
  /** With TLS: connections in their handshake at once, beyond those accepted; default
   * tlsHandshakesPendingMax. */
  tlsHandshakesPendingMax?: number
  /** Serve TLS only (DESIGN §11); undefined: plaintext. */
  tls?: TlsServerSettings
}

/** At most one warning per this many ms about connections turned away: a flood of them
 * must not also flood the log. */
const turnedAwayLogIntervalMs = 10_000

export interface ListenAddress {
  host: string
  /** 0 picks a free port; the bound port is in the result of listen(). */
  port: number
}

export class NetServer {
  private readonly options: ServerOptions
  private readonly handlers = new Map<string, Handler>()
  private readonly open = new Set<Connection>()
  private readonly logger: Logger
  private server: Server | undefined = undefined
  private readonly connectionsMax: number
  /** Connections refused for the limits. */
  private turnedAwayCount = 0
  /** TLS handshakes that failed. */
  private handshakesFailedCount = 0
  /** When each kind of refusal was last logged (warnRarely). */
  private readonly lastWarnedMs = {turnedAway: -Infinity, handshakeFailed: -Infinity}

  constructor(options: ServerOptions) {
    this.options = options
    this.logger = options.logger ?? (() => {})
    this.connectionsMax = options.connectionsMax ?? connectionsMax
  }

  /** Connections turned away because connectionsMax were open. */
  get turnedAway(): number {
    return this.turnedAwayCount
  }

  /** TLS handshakes that failed: plaintext clients, clients without a certificate the CA
   * signed (mutual TLS), clients that do not trust this node's certificate. */
  get handshakesFailed(): number {
    return this.handshakesFailedCount
  }

  /** Registers the handler of one message type; its return value is the reply. */
  handle(type: string, handler: Handler): this {
    assert(!reservedTypes.has(type), `'${type}' is a reserved frame type`)
    assert(!this.handlers.has(type), `handler for '${type}' registered twice`)
    this.handlers.set(type, handler)
    return this
  }

  /** Connections accepted and not yet closed, including those still in their hello. */
  get connections(): ReadonlySet<Connection> {
    return this.open
  }

  /** Starts listening; rejects with PortInUseError or ListenError. */
  async listen(address: ListenAddress): Promise<ListenAddress> {
    assert(this.server === undefined, 'listen called twice')
    const server = await this.createListener()
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        this.server = undefined
        reject(error.code === 'EADDRINUSE' ? new PortInUseError(address.host, address.port, error) : new ListenError(address.host, address.port, error))
      })
      server.listen({host: address.host, port: address.port}, () => resolve())
    })
    server.on('error', (error) => this.logger({level: 'warn', message: `server error: ${error.message}`, address: `${address.host}:${address.port}`}))
    const bound = server.address()
    assert(bound !== null && typeof bound === 'object', 'TCP server without an address')
    return {host: bound.address, port: bound.port}
  }

  /** Graceful close: stops accepting, lets every connection finish its in-flight requests
   * (each bounded by closeTimeoutMs), then resolves. */
  async close(): Promise<void> {
    const server = this.server
    const stopped = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()))
    await Promise.all([...this.open].map((connection) => connection.close()))
    await stopped
  }

  /** Closes every connection and the listener at once. */
  async destroy(): Promise<void> {
    const server = this.server
    const stopped = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()))
    for (const connection of this.open) connection.destroy('server destroyed')
    await stopped
  }

  private async createListener(): Promise<Server> {
    const tls = this.options.tls
    if (tls === undefined) return createServer((socket) => this.accept(socket))
    // Loaded here: every client imports this module, and most never serve anything.
    const {createServer: createTlsServer} = await import('node:tls')
    const server = createTlsServer(
      {
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca === undefined ? {} : {ca: tls.ca}),
        requestCert: tls.requireClientCert,
        rejectUnauthorized: tls.requireClientCert,
        minVersion: tlsVersionMin,
        // A handshake is a round trip or two, as the hello: bounded the same way.
        handshakeTimeout: this.options.helloTimeoutMs ?? helloTimeoutMs,
      },
      (socket) => this.accept(socket),
    )
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => this.onHandshakeFailed(error, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`))
    // The server counts every TCP connection, accepted or still in its handshake; accepted
    // ones beyond connectionsMax are turned away with an error frame (accept), so this
    // leaves room for them and bounds the handshakes.
    server.maxConnections = this.connectionsMax + (this.options.tlsHandshakesPendingMax ?? tlsHandshakesPendingMax) + 1
    server.on('drop', (data?: {remoteAddress?: string; remotePort?: number}) => this.onDropped(`${data?.remoteAddress ?? '?'}:${data?.remotePort ?? '?'}`))
    return server
  }

  /** A failed handshake closes that socket (node:tls does it); it is counted, and logged at
   * most once per turnedAwayLogIntervalMs, since anyone can cause one. */
  private onHandshakeFailed(error: NodeJS.ErrnoException, address: string): void {
    this.handshakesFailedCount++
    if (!this.warnRarely('handshakeFailed')) return
    const plaintext = error.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || error.code === 'ERR_SSL_HTTP_REQUEST'
    const why = plaintext ? 'the client spoke plaintext to this TLS port' : (error.message.split('\n')[0] ?? '')
    this.logger({level: 'warn', message: `TLS handshake failed: ${why} (${this.handshakesFailedCount} so far)`, code: error.code ?? 'TLS_FAILED', address})
  }

  /** A TCP connection closed on arrival because too many handshakes were under way: counted
   * as turned away, logged at most once per turnedAwayLogIntervalMs. */
  private onDropped(address: string): void {
    this.turnedAwayCount++
    if (!this.warnRarely('turnedAway')) return
    this.logger({level: 'warn', message: `turned away a connection: too many TLS handshakes under way (${this.turnedAwayCount} turned away so far)`, code: 'TOO_MANY_HANDSHAKES', address})
  }

  private accept(socket: Socket): void {
    if (this.open.size >= this.connectionsMax) return this.turnAway(socket)
    const connection = new Connection(socket, {...this.options, side: 'acceptor', handlers: this.handlers})
    this.open.add(connection)
    void connection.closed.then(() => this.open.delete(connection))
    connection.ready.then(
      () => this.options.onConnection?.(connection),
      () => {}, // the connection has logged why its hello failed
    )
  }

  /** Tells a connection over the limit why, in place of a hello (the other side's hello
   * fails with this error, as for any refusal), and closes it. */
  private turnAway(socket: Socket): void {
    this.turnedAwayCount++
    const fields = {
      code: 'TOO_MANY_CONNECTIONS',
      message: `the node has ${this.open.size} connections open, its limit`,
      suggestion: 'retry later; a client should reuse its connections (DynClient keeps one per node) and close the ones it no longer needs',
    }
    socket.on('error', () => {}) // the peer may be gone already; nothing is owed to it
    socket.resume() // discard what it sends (its hello), so its close is seen and the socket freed
    socket.end(encodeFrame({type: 'error', id: 0, payload: fields}))
    setTimeout(() => socket.destroy(), closeTimeoutMs).unref()
    if (!this.warnRarely('turnedAway')) return
    const address = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    this.logger({level: 'warn', message: `turned away a connection: ${this.open.size} open, the limit (${this.turnedAwayCount} turned away so far)`, code: fields.code, address})
  }

  /** True, and remembered, when a refusal of this kind was not logged in the last
   * turnedAwayLogIntervalMs: anyone can cause them, so the log gets one line per interval. */
  private warnRarely(kind: keyof NetServer['lastWarnedMs']): boolean {
    const nowMs = performance.now()
    if (nowMs - this.lastWarnedMs[kind] < turnedAwayLogIntervalMs) return false
    this.lastWarnedMs[kind] = nowMs
    return true
  }
}
