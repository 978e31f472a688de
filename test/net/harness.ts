// Shared setup for the net tests: servers and clients on 127.0.0.1 with ephemeral ports,
// every one tracked so afterEach can close it even when a test failed.
import {connect as tcpConnect, type Socket} from 'node:net'
import {connect, type ConnectOptions} from '../../src/net/client.js'
import {decodeBody, encodeFrame, FrameDecoder, type Envelope} from '../../src/net/codec.js'
import type {Connection, Identity, LogEntry} from '../../src/net/connection.js'
import {nonceBytes, protocolVersion} from '../../src/net/constants.js'
import {NetServer, type ServerOptions} from '../../src/net/server.js'

export const host = '127.0.0.1'
export const cluster = 'test-cluster'

export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return {promise, resolve}
}

/** Everything a test opened; `cleanup` destroys it all. */
export class Tracker {
  private readonly servers: NetServer[] = []
  private readonly connections: Connection[] = []
  private readonly sockets: Socket[] = []

  async server(options: Partial<ServerOptions> & {name?: string} = {}): Promise<{server: NetServer; port: number; logs: LogEntry[]}> {
    const logs: LogEntry[] = []
    const {name, ...rest} = options
    const server = new NetServer({identity: {cluster, role: 'node', name: name ?? 'n1'}, logger: (entry) => logs.push(entry), ...rest})
    this.servers.push(server)
    const {port} = await server.listen({host, port: 0})
    return {server, port, logs}
  }

  async client(port: number, options: Partial<ConnectOptions> = {}): Promise<Connection> {
    const connection = await connect({host, port, identity: {cluster, role: 'client', name: 'test'}, ...options})
    this.connections.push(connection)
    return connection
  }

  /** Tracks a connection made some other way. */
  track(connection: Connection): Connection {
    this.connections.push(connection)
    return connection
  }

  /** A plain TCP socket, for writing bytes the library would never write. */
  async raw(port: number): Promise<RawPeer> {
    const socket = tcpConnect({host, port})
    this.sockets.push(socket)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new RawPeer(socket)
  }

  async cleanup(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    for (const connection of this.connections) connection.destroy('test over')
    await Promise.all(this.servers.map((server) => server.destroy()))
    this.servers.length = 0
    this.connections.length = 0
    this.sockets.length = 0
  }
}

/** A raw socket that records the frames it receives and when it was closed. */
export class RawPeer {
  readonly socket: Socket
  readonly received: Envelope[] = []
  readonly closed: Promise<void>
  private readonly decoder = new FrameDecoder()

  constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      for (const body of this.decoder.push(chunk)) this.received.push(decodeBody(body))
    })
    socket.on('error', () => {})
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  /** Sends a valid client hello so that later frames reach the message stage. */
  hello(identity: Partial<Identity> = {}): void {
    this.write(
      encodeFrame({
        type: 'hello',
        id: 0,
        payload: {
          version: identity.version ?? protocolVersion,
          cluster: identity.cluster ?? cluster,
          role: identity.role ?? 'client',
          name: identity.name ?? 'raw',
          nonce: new Uint8Array(nonceBytes),
          auth: false,
        },
      }),
    )
  }

  /** The code of the connection-level error frame the server sent before closing. */
  closingCode(): string | undefined {
    const last = this.received.at(-1)
    if (last === undefined || last.type !== 'error' || last.id !== 0) return undefined
    return (last.payload as {code?: string}).code
  }
}

/** A promise that rejects after `ms`, to bound a wait that must not hang a test. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}
