// The connecting side of the wire protocol: a TCP connect bounded by connectTimeoutMs,
// then the hello; resolves only with a connection that is ready for requests.
import {connect as tcpConnect, type Socket} from 'node:net'
import {connectTimeoutMs as connectTimeoutMsDefault} from './constants.js'
import {Connection, type ConnectionSettings, type Identity} from './connection.js'
import {ConnectError, RequestAbortedError, TimeoutError} from './errors.js'

export interface ConnectOptions extends ConnectionSettings {
  host: string
  port: number
  identity: Identity
  connectTimeoutMs?: number
  signal?: AbortSignal
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

function openSocket(options: ConnectOptions): Promise<Socket> {
  const address = `${options.host}:${options.port}`
  const timeoutMs = options.connectTimeoutMs ?? connectTimeoutMsDefault
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted === true) return reject(new RequestAbortedError('connect', options.signal.reason))
    const socket = tcpConnect({host: options.host, port: options.port})
    const fail = (error: unknown): void => {
      cleanup()
      socket.destroy()
      reject(error)
    }
    const onError = (error: Error): void => fail(new ConnectError(address, error))
    const onAbort = (): void => fail(new RequestAbortedError('connect', options.signal?.reason))
    const timer = setTimeout(() => fail(new TimeoutError(`connect to ${address}`, timeoutMs)), timeoutMs)
    const cleanup = (): void => {
      clearTimeout(timer)
      socket.off('error', onError)
      options.signal?.removeEventListener('abort', onAbort)
    }
    socket.once('error', onError)
    options.signal?.addEventListener('abort', onAbort, {once: true})
    socket.once('connect', () => {
      cleanup()
      resolve(socket)
    })
  })
}
