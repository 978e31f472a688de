// Named errors of the wire protocol. Each says what happened and what to do; the `code` is
// also what travels in an error frame, so the other side can rebuild the same error.
import {DynError} from '../core/errors.js'

/** The peer broke the protocol: bad frame, undecodable body, unknown type. The connection
 * that carried it is closed; nothing else is affected. */
export class ProtocolError extends DynError {
  constructor(message: string, code = 'PROTOCOL_ERROR') {
    super(message, {code, suggestion: 'check that the peer is a dyn node or client of the same version'})
  }
}

export class FrameTooLargeError extends DynError {
  constructor(frameBytes: number, frameBytesMax: number) {
    super(`frame of ${frameBytes} bytes is over the frame limit of ${frameBytesMax} bytes`, {
      code: 'FRAME_TOO_LARGE',
      suggestion: 'send smaller values; a value must fit in one frame',
    })
  }
}

export class ProtocolMismatchError extends DynError {
  constructor(localVersion: unknown, peerVersion: unknown, peer: string) {
    super(`this program speaks protocol version ${String(localVersion)} but ${peer} speaks version ${String(peerVersion)}`, {
      code: 'PROTOCOL_MISMATCH',
      suggestion: 'run the same dyn version on every node and client of a cluster',
    })
  }
}

export class ClusterMismatchError extends DynError {
  constructor(localCluster: string, peerCluster: string, peer: string) {
    super(`this program expects cluster '${localCluster}' but ${peer} belongs to cluster '${peerCluster}'`, {
      code: 'CLUSTER_MISMATCH',
      suggestion: `check the address (--host / --dir) or use cluster name '${peerCluster}'`,
    })
  }
}

export class AuthError extends DynError {
  constructor(message: string) {
    super(message, {
      code: 'AUTH_FAILED',
      suggestion: 'give every node the same cluster secret ("secret" in its configuration), and the dyn commands the file holding it (DYN_SECRET_FILE)',
    })
  }
}

/** A request, connect or hello got no answer in time. */
export class TimeoutError extends DynError {
  readonly timeoutMs: number
  constructor(what: string, timeoutMs: number) {
    super(`${what} got no answer within ${timeoutMs} ms`, {
      code: 'TIMEOUT',
      suggestion: 'check that the node is running and reachable, or raise the timeout',
    })
    this.timeoutMs = timeoutMs
  }
}

export class RequestAbortedError extends DynError {
  constructor(type: string, reason: unknown) {
    super(`request '${type}' was aborted`, {code: 'ABORTED', cause: reason})
  }
}

export class InFlightLimitError extends DynError {
  constructor(inFlightMax: number) {
    super(`connection already has ${inFlightMax} requests waiting for replies`, {
      code: 'IN_FLIGHT_LIMIT',
      suggestion: 'wait for replies before sending more, or spread requests over more connections',
    })
  }
}

export class ConnectionClosedError extends DynError {
  constructor(peer: string, reason: string) {
    super(`connection to ${peer} closed: ${reason}`, {
      code: 'CONNECTION_CLOSED',
      suggestion: 'retry on a new connection; if it keeps happening, check the node log',
    })
  }
}

export class ConnectError extends DynError {
  constructor(address: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause)
    super(`cannot connect to ${address}: ${detail}`, {
      code: 'CONNECT_FAILED',
      suggestion: 'check that a node is running at that address (dyn cluster status) and that it is reachable',
      cause,
    })
  }
}

export class ListenError extends DynError {
  constructor(host: string, port: number, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause)
    super(`cannot listen on ${host}:${port}: ${detail}`, {
      code: 'LISTEN_FAILED',
      suggestion: 'check the listen address (--host) is an address of this machine and the port is allowed',
      cause,
    })
  }
}

export class PortInUseError extends DynError {
  constructor(host: string, port: number, cause: unknown) {
    super(`port ${port} on ${host} is already in use`, {
      code: 'PORT_IN_USE',
      suggestion: `stop the process listening on ${host}:${port} or choose another port (--port)`,
      cause,
    })
  }
}

/** The peer's handler failed; carries the peer's code, message and suggestion. */
export class RemoteError extends DynError {
  constructor(fields: ErrorFields) {
    super(fields.message, {code: fields.code, ...(fields.suggestion === undefined ? {} : {suggestion: fields.suggestion})})
  }
}

/** An error as it travels in an error frame. */
export interface ErrorFields {
  code: string
  message: string
  suggestion?: string
}

export function errorFields(error: unknown): ErrorFields {
  if (error instanceof DynError) {
    return {code: error.code, message: error.message, ...(error.suggestion === undefined ? {} : {suggestion: error.suggestion})}
  }
  const message = error instanceof Error ? error.message : String(error)
  return {code: 'HANDLER_FAILED', message}
}

/** Rebuilds a refusal received during the hello as the local named error, so the
 * connecting side sees the same class whichever side noticed the mismatch first. */
export function refusalError(fields: ErrorFields): DynError {
  return fields.code === 'AUTH_FAILED' ? new AuthError(fields.message) : new RemoteError(fields)
}
