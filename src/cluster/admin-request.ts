// One administrative request to one node (admin.* messages of core/protocol.ts): connect as
// a client, ask, read the JSON document the node answers, close. Used by the membership and
// fault-injection commands and by benchmarks.
import {clientIdentity, clientTls, parseAddress} from '../client/index.js'
import {DynError, exitCodes} from '../core/errors.js'
import {NodeFailureError, type MessageType, type WireError} from '../core/protocol.js'
import {connect} from '../net/index.js'

/** How long one admin request (connect, hello and answer) may take by default: a serving node
 * answers at once; 5 s covers a node busy with a burst of hints on a loaded machine. Plans and
 * commits pass longer timeouts (they may be forwarded to the claimant). */
export const adminRequestTimeoutMs = 5_000

export type AdminType = Extract<MessageType, `admin.${string}`>

export class BadAdminResponseError extends DynError {
  constructor(address: string, type: string, problem: string) {
    super(`the node at ${address} answered ${type} with a malformed response: ${problem}`, {
      code: 'BAD_RESPONSE',
      exitCode: exitCodes.error,
      suggestion: 'run the same dyn version on every node of the cluster',
    })
  }
}

/** Sends one admin request to the node at `address` and returns the JSON document it
 * answered; a failure answer is thrown as NodeFailureError. */
export async function adminRequest(options: {address: string; cluster: string; type: AdminType; payload: unknown; timeoutMs?: number}): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? adminRequestTimeoutMs
  const {host, port} = parseAddress(options.address)
  const tls = clientTls()
  const connection = await connect({host, port, identity: clientIdentity({cluster: options.cluster, name: `dyn-cluster-${process.pid}`}), connectTimeoutMs: timeoutMs, ...(tls === undefined ? {} : {tls})})
  try {
    const reply = (await connection.request(options.type, options.payload, {timeoutMs})) as {ok?: unknown; json?: unknown; error?: unknown}
    if (reply.ok === false && typeof reply.error === 'object' && reply.error !== null) throw new NodeFailureError(reply.error as WireError)
    if (reply.ok !== true || typeof reply.json !== 'string') throw new BadAdminResponseError(options.address, options.type, 'no json field')
    try {
      return JSON.parse(reply.json) as unknown
    } catch {
      throw new BadAdminResponseError(options.address, options.type, 'not JSON')
    }
  } finally {
    await connection.close()
  }
}
