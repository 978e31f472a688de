// The TCP server of the wire protocol (DESIGN §7): one port for clients and peers. It
// accepts connections, runs the hello on each, dispatches requests to the handler table
// and closes gracefully (stop accepting, let in-flight requests finish) for SIGTERM.
import {createServer, type Server, type Socket} from 'node:net'
import {assert} from '../core/errors.js'
import {Connection, reservedTypes, type ConnectionSettings, type Handler, type Identity, type Logger} from './connection.js'
import {ListenError, PortInUseError} from './errors.js'

export interface ServerOptions extends Omit<ConnectionSettings, 'handlers'> {
  identity: Identity
  /** Called with each connection whose hello succeeded. */
  onConnection?: (connection: Connection) => void
}

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

  constructor(options: ServerOptions) {
    this.options = options
    this.logger = options.logger ?? (() => {})
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
    const server = createServer((socket) => this.accept(socket))
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

  private accept(socket: Socket): void {
    const connection = new Connection(socket, {...this.options, side: 'acceptor', handlers: this.handlers})
    this.open.add(connection)
    void connection.closed.then(() => this.open.delete(connection))
    connection.ready.then(
      () => this.options.onConnection?.(connection),
      () => {}, // the connection has logged why its hello failed
    )
  }
}
