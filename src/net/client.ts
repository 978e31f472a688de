// The connecting side of the wire protocol: a TCP connect (and with TLS settings, the TLS
// handshake) bounded by connectTimeoutMs, then the hello; resolves only with a connection
// that is ready for requests.
import {isIP, connect as tcpConnect, type Socket} from 'node:net'
import {connectTimeoutMs as connectTimeoutMsDefault} from './constants.js'
import {Connection, type ConnectionSettings, type Identity} from './connection.js'
import {ConnectError, RequestAbortedError, TimeoutError} from './errors.js'
import {tlsClientFailure, tlsVersionMin, type TlsClientSettings} from './tls.js'

export interface ConnectOptions extends ConnectionSettings {
  host: string
  port: number
  identity: Identity
  connectTimeoutMs?: number
  signal?: AbortSignal
  /** Connect with TLS (DESIGN §11); undefined: plaintext. */
  tls?: TlsClientSettings
}

/** Connects and says hello. Rejects with ConnectError, TimeoutError, RequestAbortedError,
 * or the hello's refusal (ProtocolMismatchError, ClusterMismatchError, AuthError). */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const socket = await openSocket(options)
  const connection = new Connection(socket, {...options, side: 'connector'})
  const onAbort = (): void => connection.destroy('connect aborted')
  options.signal?.addEventListener('abort', onAbort, {once: true})
  try {
    await connection.ready
  } catch (error) {
    // The connection has closed itself already, after flushing its refusal to the peer.
    throw options.signal?.aborted === true ? new RequestAbortedError('connect', options.signal.reason) : error
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
  return connection
}

async function openSocket(options: ConnectOptions): Promise<Socket> {
  // node:tls is loaded only by the programs that use it: a plain `dyn get` starts faster.
  const tls = options.tls === undefined ? undefined : {settings: options.tls, connect: (await import('node:tls')).connect}
  const address = `${options.host}:${options.port}`
  const timeoutMs = options.connectTimeoutMs ?? connectTimeoutMsDefault
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted === true) return reject(new RequestAbortedError('connect', options.signal.reason))
    const socket =
      tls === undefined
        ? tcpConnect({host: options.host, port: options.port})
        : tls.connect({
            host: options.host,
            port: options.port,
            minVersion: tlsVersionMin,
            // SNI carries names only; an address is checked against the certificate's IP names.
            ...(isIP(options.host) === 0 ? {servername: options.host} : {}),
            ...(tls.settings.ca === undefined ? {} : {ca: tls.settings.ca}),
            ...(tls.settings.cert === undefined ? {} : {cert: tls.settings.cert}),
            ...(tls.settings.key === undefined ? {} : {key: tls.settings.key}),
          })
    const fail = (error: unknown): void => {
      cleanup()
      socket.destroy()
      reject(error)
    }
    const onError = (error: Error): void => fail(tlsClientFailure(error, address) ?? new ConnectError(address, error))
    const onAbort = (): void => fail(new RequestAbortedError('connect', options.signal?.reason))
    const timer = setTimeout(() => fail(new TimeoutError(`connect to ${address}`, timeoutMs)), timeoutMs)
    const cleanup = (): void => {
      clearTimeout(timer)
      socket.off('error', onError)
      options.signal?.removeEventListener('abort', onAbort)
    }
    socket.once('error', onError)
    options.signal?.addEventListener('abort', onAbort, {once: true})
    // A TLS socket is ready once its handshake is done (and the node's certificate checked).
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
      cleanup()
      resolve(socket)
    })
  })
}
