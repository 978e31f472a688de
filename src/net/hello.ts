// The hello that opens every connection (DESIGN §7, §11). Both sides send one at once; each
// checks the other's protocol version and cluster name. With a cluster secret, each side
// then proves knowledge of it by an HMAC-SHA256 over both fresh nonces (a mutual
// challenge-response in the style of RFC 2195 CRAM and SCRAM, RFC 5802): a proof is bound
// to the side that made it and to this connection's nonces, so it cannot be replayed on
// another connection or reflected back at its maker.
import {createHmac, randomBytes, timingSafeEqual} from 'node:crypto'
import type {DynError} from '../core/errors.js'
import {nameBytesMax, nonceBytes} from './constants.js'
import {AuthError, ClusterMismatchError, errorFields, ProtocolError, ProtocolMismatchError, type ErrorFields} from './errors.js'

/** Who is speaking: a client program, or the named node of the cluster. */
export type Role = 'client' | 'node'

/** Which end of the TCP connection; part of the proof so a proof cannot be reflected. */
export type Side = 'connector' | 'acceptor'

/** The hello payload. `version` comes first and must stay in every future version, so that
 * mismatched peers can always tell each other so. */
export interface Hello {
  version: number
  cluster: string
  role: Role
  /** Node name for role 'node'; a free label (such as the program name) for 'client'. */
  name: string
  /** Fresh random bytes: the challenge the peer's proof must cover. */
  nonce: Uint8Array
  /** True when the sender has a cluster secret and so expects and sends a proof. */
  auth: boolean
}

/** The payload of the `auth` frame sent after the hellos when a secret is configured. */
export interface AuthProof {
  proof: Uint8Array
}

export interface LocalIdentity {
  version: number
  cluster: string
  role: Role
  name: string
  secret: Uint8Array | undefined
}

export function makeHello(identity: LocalIdentity): Hello {
  return {
    version: identity.version,
    cluster: identity.cluster,
    role: identity.role,
    name: identity.name,
    nonce: randomBytes(nonceBytes),
    auth: identity.secret !== undefined,
  }
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) <= nameBytesMax
}

/** Why a hello was refused: the error for this side, and the same error as the peer
 * would phrase it, which travels to the peer in an error frame. */
export interface Refusal {
  local: DynError
  toPeer: ErrorFields
}

function refusal(local: DynError, toPeer: DynError = local): Refusal {
  return {local, toPeer: errorFields(toPeer)}
}

/** Checks the peer's hello against ours. Version first: a different version may have a
 * different hello shape. `peer` and `self` describe both ends for the messages. */
export function checkHello(payload: unknown, local: LocalIdentity, names: {peer: string; self: string}): Hello | Refusal {
  if (typeof payload !== 'object' || payload === null) return refusal(new ProtocolError('hello payload is not a map', 'INVALID_HELLO'))
  const fields = payload as Record<string, unknown>
  const version = fields['version']
  if (version !== local.version) {
    return refusal(new ProtocolMismatchError(local.version, version, names.peer), new ProtocolMismatchError(version, local.version, names.self))
  }
  const {cluster, role, name, nonce, auth} = fields
  if (!isName(cluster) || !isName(name) || (role !== 'client' && role !== 'node') || typeof auth !== 'boolean') {
    return refusal(new ProtocolError('hello is missing cluster, role, name or auth', 'INVALID_HELLO'))
  }
  if (!(nonce instanceof Uint8Array) || nonce.length !== nonceBytes) {
    return refusal(new ProtocolError(`hello nonce must be ${nonceBytes} bytes`, 'INVALID_HELLO'))
  }
  if (cluster !== local.cluster) {
    return refusal(new ClusterMismatchError(local.cluster, cluster, names.peer), new ClusterMismatchError(cluster, local.cluster, names.self))
  }
  const localAuth = local.secret !== undefined
  if (auth !== localAuth) {
    // Each side's message speaks from where it stands: "this end" is the one reading it.
    const peerLacks = (peer: string) => `${peer} has no cluster secret, and this end has one`
    const selfLacks = (peer: string) => `${peer} has a cluster secret, and this end has none`
    return localAuth
      ? refusal(new AuthError(peerLacks(names.peer)), new AuthError(selfLacks(names.self)))
      : refusal(new AuthError(selfLacks(names.peer)), new AuthError(peerLacks(names.self)))
  }
  return {version: local.version, cluster, role, name, nonce, auth}
}

export function isRefusal(value: Hello | Refusal): value is Refusal {
  return 'local' in value
}

/** HMAC-SHA256(secret, label | side | cluster | maker's nonce | other side's nonce). */
export function makeProof(options: {secret: Uint8Array; side: Side; cluster: string; ownNonce: Uint8Array; peerNonce: Uint8Array}): Buffer {
  return createHmac('sha256', options.secret)
    .update(`dyn-hello-v1\0${options.side}\0${options.cluster}\0`)
    .update(options.ownNonce)
    .update(options.peerNonce)
    .digest()
}

export function checkProof(
  payload: unknown,
  expected: {secret: Uint8Array; peerSide: Side; cluster: string; ownNonce: Uint8Array; peerNonce: Uint8Array},
): boolean {
  if (typeof payload !== 'object' || payload === null) return false
  const proof = (payload as Record<string, unknown>)['proof']
  if (!(proof instanceof Uint8Array)) return false
  const want = makeProof({
    secret: expected.secret,
    side: expected.peerSide,
    cluster: expected.cluster,
    ownNonce: expected.peerNonce,
    peerNonce: expected.ownNonce,
  })
  return proof.length === want.length && timingSafeEqual(proof, want)
}
