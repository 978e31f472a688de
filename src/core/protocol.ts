// The messages nodes and clients exchange over the wire protocol (DESIGN §3, §7). Plain data:
// keys and values are bytes, stored objects travel in their canonical encoding
// (causality/codec.ts), contexts as opaque tokens (causality/context.ts).
//
// Every request type maps to one response type. A response is either a success or an
// expected failure carrying a WireError (quorum not met, bad context, value too large...):
// handlers return failures instead of throwing, so a script sees the same code, exit code
// and suggestion whichever node it asked. Transport failures (timeouts, refused
// connections) are the transport's own errors.
//
// Incoming payloads are checked here (`parseRequest`) before any node code touches them: a
// peer or client that sends a well-framed but malformed request gets a BAD_REQUEST failure.
import {DynError, exitCodes, type ExitCode} from './errors.js'
import type {Dot} from './causality.js'
import type {GetQuorumDetails, PutQuorumDetails} from './quorum.js'
import type {Ring} from './ring.js'

/** Version of the messages below; the hello refuses peers speaking another one. */
export const protocolVersion = 1

export interface WireError {
  readonly code: string
  readonly message: string
  readonly exitCode: ExitCode
  readonly suggestion?: string
  /** For QUORUM_NOT_MET: what each replica said. */
  readonly quorum?: GetQuorumDetails | PutQuorumDetails
}

export type Failure = {readonly ok: false; readonly error: WireError}

// ---- client requests (any node accepts them) ----

export interface GetRequest {
  readonly key: Uint8Array
  readonly r?: number
  /** Set by a node forwarding to the coordinator, so the request is not forwarded again. */
  readonly forwarded?: boolean
}

export interface PutRequest {
  readonly key: Uint8Array
  readonly value: Uint8Array
  /** Context token from an earlier read; absent for a blind write. */
  readonly context?: string
  readonly w?: number
  readonly forwarded?: boolean
}

export interface DeleteRequest {
  readonly key: Uint8Array
  readonly context?: string
  readonly w?: number
  readonly forwarded?: boolean
}

export interface SiblingView {
  readonly value: Uint8Array
  readonly dot: Dot
}

export type GetResponse =
  | {
      readonly ok: true
      readonly found: boolean
      readonly siblings: readonly SiblingView[]
      readonly context: string
      readonly quorum: GetQuorumDetails
    }
  | Failure

export interface SiblingsWarningView {
  readonly code: string
  readonly message: string
}

export type PutResponse =
  | {
      readonly ok: true
      /** Context after the write: covers the new value and whatever the write replaced. */
      readonly context: string
      /** The dot naming this write. */
      readonly dot: Dot
      readonly quorum: PutQuorumDetails
      readonly warning?: SiblingsWarningView
    }
  | Failure

export interface NodeAddress {
  readonly name: string
  /** host:port of the node's wire-protocol listener. */
  readonly address: string
}

export type RingResponse =
  | {
      readonly ok: true
      readonly cluster: string
      readonly ring: Ring
      readonly nodes: readonly NodeAddress[]
      readonly n: number
      readonly r: number
      readonly w: number
    }
  | Failure

// ---- peer requests (replica role) ----

export interface ReplicaGetRequest {
  readonly partition: number
  readonly key: Uint8Array
}

export type ReplicaGetResponse = {readonly ok: true; readonly object?: Uint8Array} | Failure

/** Merge `object` into the replica's copy with the sync rule and persist it. */
export interface ReplicaPutRequest {
  readonly partition: number
  readonly key: Uint8Array
  readonly object: Uint8Array
}

export type ReplicaPutResponse = {readonly ok: true} | Failure

export interface Messages {
  'kv.get': {request: GetRequest; response: GetResponse}
  'kv.put': {request: PutRequest; response: PutResponse}
  'kv.delete': {request: DeleteRequest; response: PutResponse}
  'ring.get': {request: Record<string, never>; response: RingResponse}
  'replica.get': {request: ReplicaGetRequest; response: ReplicaGetResponse}
  'replica.put': {request: ReplicaPutRequest; response: ReplicaPutResponse}
}

export type MessageType = keyof Messages
export type RequestOf<T extends MessageType> = Messages[T]['request']
export type ResponseOf<T extends MessageType> = Messages[T]['response']

export const clientMessageTypes = ['kv.get', 'kv.put', 'kv.delete', 'ring.get'] as const satisfies readonly MessageType[]
export const peerMessageTypes = ['replica.get', 'replica.put'] as const satisfies readonly MessageType[]
export const messageTypes: readonly MessageType[] = [...clientMessageTypes, ...peerMessageTypes]

export function isMessageType(type: string): type is MessageType {
  return (messageTypes as readonly string[]).includes(type)
}

export class BadRequestError extends DynError {
  constructor(type: string, problem: string) {
    super(`malformed ${type} request: ${problem}`, {
      code: 'BAD_REQUEST',
      exitCode: exitCodes.usage,
      suggestion: 'use a dyn client of the same version as the cluster',
    })
  }
}

/** The wire form of an error; DynErrors keep their code, exit code and suggestion. */
export function toWireError(error: unknown): WireError {
  if (error instanceof DynError) {
    const quorum = (error as {quorum?: GetQuorumDetails | PutQuorumDetails}).quorum
    return {
      code: error.code,
      message: error.message,
      exitCode: error.exitCode,
      ...(error.suggestion === undefined ? {} : {suggestion: error.suggestion}),
      ...(quorum === undefined ? {} : {quorum}),
    }
  }
  const message = error instanceof Error ? error.message : String(error)
  return {code: 'INTERNAL', message, exitCode: exitCodes.error}
}

export function failure(error: unknown): Failure {
  return {ok: false, error: toWireError(error)}
}

/** An error received from a node, as a DynError the caller can throw. */
export class NodeFailureError extends DynError {
  readonly quorum: GetQuorumDetails | PutQuorumDetails | undefined

  constructor(wire: WireError) {
    super(wire.message, {
      code: wire.code,
      exitCode: wire.exitCode,
      ...(wire.suggestion === undefined ? {} : {suggestion: wire.suggestion}),
    })
    this.quorum = wire.quorum
  }
}

// ---- validation of incoming payloads ----

type Fields = Record<string, unknown>

function record(type: string, payload: unknown): Fields {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || payload instanceof Uint8Array) {
    throw new BadRequestError(type, 'the payload is not a map')
  }
  return payload as Fields
}

function bytes(type: string, fields: Fields, name: string): Uint8Array {
  const value = fields[name]
  if (!(value instanceof Uint8Array)) throw new BadRequestError(type, `${name} must be bytes`)
  return value
}

function optionalCount(type: string, fields: Fields, name: string): number | undefined {
  const value = fields[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new BadRequestError(type, `${name} must be a whole number`)
  }
  return value
}

function count(type: string, fields: Fields, name: string): number {
  const value = optionalCount(type, fields, name)
  if (value === undefined) throw new BadRequestError(type, `${name} is missing`)
  return value
}

function optionalString(type: string, fields: Fields, name: string): string | undefined {
  const value = fields[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw new BadRequestError(type, `${name} must be a string`)
  return value
}

function optionalFlag(type: string, fields: Fields, name: string): boolean | undefined {
  const value = fields[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'boolean') throw new BadRequestError(type, `${name} must be true or false`)
  return value
}

/** Builds an object without the optional fields that are undefined
 * (exactOptionalPropertyTypes: absent and undefined are different). */
function compact<T extends object>(fields: {[K in keyof T]-?: T[K] | undefined}): T {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as T
}

/** Checks a request payload received from the wire; throws BadRequestError. */
export function parseRequest<T extends MessageType>(type: T, payload: unknown): RequestOf<T> {
  const fields = record(type, payload)
  return parsers[type](fields) as RequestOf<T>
}

const parsers: {[T in MessageType]: (fields: Fields) => RequestOf<T>} = {
  'kv.get': (f) =>
    compact<GetRequest>({key: bytes('kv.get', f, 'key'), r: optionalCount('kv.get', f, 'r'), forwarded: optionalFlag('kv.get', f, 'forwarded')}),
  'kv.put': (f) =>
    compact<PutRequest>({
      key: bytes('kv.put', f, 'key'),
      value: bytes('kv.put', f, 'value'),
      context: optionalString('kv.put', f, 'context'),
      w: optionalCount('kv.put', f, 'w'),
      forwarded: optionalFlag('kv.put', f, 'forwarded'),
    }),
  'kv.delete': (f) =>
    compact<DeleteRequest>({
      key: bytes('kv.delete', f, 'key'),
      context: optionalString('kv.delete', f, 'context'),
      w: optionalCount('kv.delete', f, 'w'),
      forwarded: optionalFlag('kv.delete', f, 'forwarded'),
    }),
  'ring.get': () => ({}),
  'replica.get': (f) => ({partition: count('replica.get', f, 'partition'), key: bytes('replica.get', f, 'key')}),
  'replica.put': (f) => ({
    partition: count('replica.put', f, 'partition'),
    key: bytes('replica.put', f, 'key'),
    object: bytes('replica.put', f, 'object'),
  }),
}
