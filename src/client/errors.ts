// Named errors of the client library. A node's own failure travels as NodeFailureError
// (core/protocol.ts) and the transport's as the net's named errors; these are the client's.
import {DynError, exitCodes} from '../core/errors.js'

/** No node on the route could be reached. */
export class NoNodeReachableError extends DynError {
  readonly attempts: readonly {address: string; message: string}[]

  constructor(what: string, attempts: readonly {address: string; message: string}[]) {
    const listed = attempts.map((attempt) => `${attempt.address}: ${attempt.message}`).join('; ')
    super(`no node could be reached for ${what} (${listed === '' ? 'no address to try' : listed})`, {
      code: 'NO_NODE_REACHABLE',
      exitCode: exitCodes.error,
      suggestion: 'check that the cluster is running (`dyn cluster status`) or give a reachable node with --host HOST:PORT',
    })
    this.attempts = attempts
  }
}

/** A node answered with something that is not a response of this protocol version. */
export class BadResponseError extends DynError {
  constructor(type: string, address: string, problem: string) {
    super(`node ${address} sent a malformed ${type} response: ${problem}`, {
      code: 'BAD_RESPONSE',
      exitCode: exitCodes.error,
      suggestion: 'use a dyn client of the same version as the cluster',
    })
  }
}

/** An address that is not HOST:PORT. */
export class AddressError extends DynError {
  constructor(address: string) {
    super(`address ${JSON.stringify(address)} is not HOST:PORT`, {
      code: 'ADDRESS_INVALID',
      exitCode: exitCodes.usage,
      suggestion: 'write it as HOST:PORT with a port from 1 to 65535, for example 127.0.0.1:7001',
    })
  }
}
