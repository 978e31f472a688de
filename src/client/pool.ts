// One open connection per node address, opened on first use and reused by every request
// to that node (a request is one frame on a connection that stays open; a TCP connect
// plus hello per request would double a loopback request's latency).
import {connect, type Connection, type Identity, type TlsClientSettings} from '../net/index.js'
import {parseAddress} from './address.js'

export interface PoolOptions {
  readonly identity: Identity
  readonly connectTimeoutMs?: number
  /** Connect with TLS (DESIGN §11); undefined: plaintext. */
  readonly tls?: TlsClientSettings | undefined
}

export class ConnectionPool {
  private readonly options: PoolOptions
  private readonly connections = new Map<string, Promise<Connection>>()

  constructor(options: PoolOptions) {
    this.options = options
  }

  /** An open connection to `address`; a closed one is replaced. Rejects with the net's
   * errors (ConnectError, TimeoutError, ClusterMismatchError...). */
  async get(address: string, signal?: AbortSignal): Promise<Connection> {
    const existing = this.connections.get(address)
    if (existing !== undefined) {
      const connection = await existing.catch(() => undefined)
      if (connection?.isOpen === true) return connection
      if (this.connections.get(address) === existing) this.connections.delete(address)
    }
    const opening = this.open(address, signal)
    this.connections.set(address, opening)
    opening.catch(() => {
      if (this.connections.get(address) === opening) this.connections.delete(address)
    })
    return opening
  }

  /** Closes every connection gracefully (requests in flight finish first). */
  async close(): Promise<void> {
    const opened = await Promise.allSettled(this.connections.values())
    this.connections.clear()
    await Promise.all(opened.map((result) => (result.status === 'fulfilled' ? result.value.close() : undefined)))
  }

  private async open(address: string, signal: AbortSignal | undefined): Promise<Connection> {
    const {host, port} = parseAddress(address)
    return connect({
      host,
      port,
      identity: this.options.identity,
      ...(this.options.tls === undefined ? {} : {tls: this.options.tls}),
      ...(this.options.connectTimeoutMs === undefined ? {} : {connectTimeoutMs: this.options.connectTimeoutMs}),
      ...(signal === undefined ? {} : {signal}),
    })
  }
}
