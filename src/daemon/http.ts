// The HTTP admin port (DESIGN §7): /health for probes, /status (JSON) for people and
// tools, /metrics (Prometheus text) for monitoring. Read-only; nothing here changes the node.
// With TLS configured it serves HTTPS with the node's certificate (DESIGN §11), without
// asking for client certificates: probes and Prometheus scrape it as they are, and what it
// shows is read-only (keep it on loopback or behind the firewall all the same).
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import {DynError} from '../core/errors.js'
import {tlsVersionMin, type TlsServerSettings} from '../net/index.js'

export interface AdminHandlers {
  /** True while the node serves requests; false once it is stopping (503 for probes). */
  serving(): boolean
  name: string
  status(): unknown
  metrics(): string
  /** Serve HTTPS with these; undefined: HTTP. */
  tls?: TlsServerSettings
}

export class AdminPortInUseError extends DynError {
  constructor(host: string, port: number) {
    super(`HTTP port ${port} on ${host} is already in use`, {
      code: 'PORT_IN_USE',
      suggestion: `stop the process listening on ${host}:${port} or choose another HTTP port (--http-port, or "http": {"port": ...} in the configuration)`,
    })
  }
}

export class AdminListenError extends DynError {
  constructor(host: string, port: number, cause: unknown) {
    super(`cannot listen for HTTP on ${host}:${port}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      code: 'LISTEN_FAILED',
      suggestion: 'check the HTTP address (--http-host) is an address of this machine and the port is allowed',
      cause,
    })
  }
}

export class AdminServer {
  private readonly server: Server

  constructor(handlers: AdminHandlers) {
    const handle = (request: IncomingMessage, response: ServerResponse): void => respond(handlers, request, response)
    const tls = handlers.tls
    this.server = tls === undefined ? createServer(handle) : createHttpsServer({cert: tls.cert, key: tls.key, minVersion: tlsVersionMin}, handle)
  }

  /** Starts listening; resolves with the bound address. */
  async listen(host: string, port: number): Promise<{host: string; port: number}> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (error: NodeJS.ErrnoException) => {
        reject(error.code === 'EADDRINUSE' ? new AdminPortInUseError(host, port) : new AdminListenError(host, port, error))
      })
      this.server.listen({host, port}, () => resolve())
    })
    const bound = this.server.address()
    if (bound === null || typeof bound === 'string') return {host, port}
    return {host: bound.address, port: bound.port}
  }

  /** Stops accepting, lets answers in progress finish, closes idle keep-alive connections. */
  async close(): Promise<void> {
    if (!this.server.listening) return
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeIdleConnections()
    await closed
  }
}

function respond(handlers: AdminHandlers, request: IncomingMessage, response: ServerResponse): void {
  const path = new URL(request.url ?? '/', 'http://admin').pathname
  if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, json({error: 'only GET is supported'}), {allow: 'GET, HEAD'})
  switch (path) {
    case '/health': {
      const serving = handlers.serving()
      return send(response, serving ? 200 : 503, json({status: serving ? 'ok' : 'stopping', name: handlers.name}))
    }
    case '/status':
      return send(response, 200, json(handlers.status()))
    case '/metrics':
      return send(response, 200, {type: 'text/plain; version=0.0.4; charset=utf-8', body: handlers.metrics()})
    default:
      return send(response, 404, json({error: `no such path: ${path}`, paths: ['/health', '/status', '/metrics']}))
  }
}

function json(value: unknown): {type: string; body: string} {
  return {type: 'application/json; charset=utf-8', body: `${JSON.stringify(value, null, 2)}\n`}
}

function send(response: ServerResponse, status: number, content: {type: string; body: string}, headers: Record<string, string> = {}): void {
  response.writeHead(status, {'content-type': content.type, 'content-length': Buffer.byteLength(content.body), ...headers})
  response.end(content.body)
}
