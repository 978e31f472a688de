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
import type {Dot, Sibling} from './causality.js'
import {keyBytesMax, siblingsMax} from './limits.js'
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
      /** Siblings (values and tombstones) of the key on the coordinator after the write.
       * More than 1: the write was concurrent with others, and `context` covers them too,
       * so a client that writes with it again replaces siblings it has not seen. */
      readonly siblings: number
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

/** Lists the keys this node holds with more than one sibling (docs/protocol.md
 * `kv.conflicts`): a page of at most `limit` keys in byte order, strictly after `after`. */
export interface ConflictsRequest {
  readonly after?: Uint8Array
  readonly limit: number
}

/** One sibling of a conflicted key: its dot, and whether it is a value or a tombstone. */
export interface ConflictDot extends Dot {
  readonly kind: Sibling['kind']
}

export interface ConflictView {
  readonly key: Uint8Array
  readonly partition: number
  /** Siblings of the node's copy, tombstones included. */
  readonly siblings: number
  /** Their dots in dot order; the first conflictDotsMax when there are more. */
  readonly dots: readonly ConflictDot[]
}

export type ConflictsResponse =
  | {
      readonly ok: true
      readonly node: string
      readonly keys: readonly ConflictView[]
      /** True when the node holds more conflicted keys after the last one listed. */
      readonly more: boolean
    }
  | Failure

/** Most keys one kv.conflicts page may ask for. An entry carries a key (up to keyBytesMax)
 * and up to conflictDotsMax dots of about 90 bytes each (64-character node names): 500
 * entries stay near 5 MiB, a third of the frame limit, and one request's work stays small. */
export const conflictsPageMax = 500

/** Dots listed per conflicted key. The coordinator refuses puts past siblingsMax, but
 * replica sync never refuses, so a copy can hold more; the count is always exact. */
export const conflictDotsMax = siblingsMax

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
  /** Set when the receiver is a fallback (sloppy quorum): the primary it holds the write for.
   * The receiver keeps a hint and delivers the object to that primary later (DESIGN §5). */
  readonly hintFor?: string
}

export type ReplicaPutResponse = {readonly ok: true} | Failure

/** Several objects of one partition at once: hint delivery and ownership handoff. */
export interface ReplicaPutManyRequest {
  readonly partition: number
  readonly keys: readonly Uint8Array[]
  /** objects[i] is the encoded object of keys[i]. */
  readonly objects: readonly Uint8Array[]
}

/** Tombstone reaping (node/reaper.ts), for keys of one partition: 'check' asks whether the
 * receiver agrees that each key may be reaped (a primary holds exactly `digests[i]`, long
 * enough; any other node holds no copy and no hint; no handoff of the partition runs;
 * `primaries` are the partition's primaries in the receiver's view too); 'delete' asks a
 * primary to delete each key whose stored digest is still `digests[i]`. */
export interface ReplicaReapRequest {
  readonly partition: number
  readonly phase: 'check' | 'delete'
  readonly keys: readonly Uint8Array[]
  /** digests[i] is the version digest (objects.ts digestOf) of the tombstone of keys[i]. */
  readonly digests: readonly Uint8Array[]
  /** The partition's primaries in the sender's view. */
  readonly primaries: readonly string[]
}

/** done[i]: for 'check', the receiver agrees to reap keys[i]; for 'delete', it deleted it. */
export type ReplicaReapResponse = {readonly ok: true; readonly done: readonly boolean[]} | Failure

/** A heartbeat (failure detection, DESIGN §5): any answer proves the sender is alive. */
export interface PingRequest {
  readonly from: string
}

export type PingResponse = {readonly ok: true} | Failure

// ---- gossip (membership, DESIGN §5) ----

/** Push-pull gossip: the sender's view as JSON text (core/membership.ts View); the reply
 * carries the receiver's view after merging, so one round trip syncs both ways. */
export interface GossipRequest {
  readonly from: string
  readonly view: string
}

export type GossipResponse = {readonly ok: true; readonly view: string} | Failure

// ---- anti-entropy (tictac Merkle trees, core/merkle.ts) ----

export interface TreeBranchesRequest {
  readonly partition: number
}

export interface TreeLeavesRequest {
  readonly partition: number
  readonly branches: readonly number[]
}

/** Concatenated hashes of the requested level (merkleHashBytes each). */
export type TreeHashesResponse = {readonly ok: true; readonly hashes: Uint8Array} | Failure

export interface TreeKeysRequest {
  readonly partition: number
  readonly segments: readonly number[]
}

/** The keys of the requested segments and their version digests, in parallel arrays. */
export type TreeKeysResponse = {readonly ok: true; readonly keys: readonly Uint8Array[]; readonly digests: readonly Uint8Array[]} | Failure

// ---- administration (cluster commands) ----

/** Plain JSON text; each command documents its shape in docs/cli.md. */
export type AdminResponse = {readonly ok: true; readonly json: string} | Failure

export interface AdminFaultsRequest {
  /** Node names this node stops talking to (both directions); empty heals. */
  readonly cut: readonly string[]
}

export interface AdminStageRequest {
  /** 'remove': a forced removal (`dyn cluster remove --force`). */
  readonly action: 'join' | 'leave' | 'remove' | 'clear'
  readonly name?: string
  readonly address?: string
  readonly weight?: number
}

/** admin.plan and admin.commit run on the claimant; a node that is not the claimant
 * forwards them once, flagged, so that two nodes that disagree about the claimant do not
 * pass the request back and forth. */
export interface AdminClaimantRequest {
  readonly forwarded?: boolean
}

export interface Messages {
  'kv.get': {request: GetRequest; response: GetResponse}
  'kv.put': {request: PutRequest; response: PutResponse}
  'kv.delete': {request: DeleteRequest; response: PutResponse}
  'ring.get': {request: Record<string, never>; response: RingResponse}
  'replica.get': {request: ReplicaGetRequest; response: ReplicaGetResponse}
  'replica.put': {request: ReplicaPutRequest; response: ReplicaPutResponse}
  'replica.putMany': {request: ReplicaPutManyRequest; response: ReplicaPutResponse}
  'replica.reap': {request: ReplicaReapRequest; response: ReplicaReapResponse}
  'node.ping': {request: PingRequest; response: PingResponse}
  'gossip.push': {request: GossipRequest; response: GossipResponse}
  'tree.branches': {request: TreeBranchesRequest; response: TreeHashesResponse}
  'tree.leaves': {request: TreeLeavesRequest; response: TreeHashesResponse}
  'tree.keys': {request: TreeKeysRequest; response: TreeKeysResponse}
  'admin.status': {request: Record<string, never>; response: AdminResponse}
  'admin.faults': {request: AdminFaultsRequest; response: AdminResponse}
  'admin.stage': {request: AdminStageRequest; response: AdminResponse}
  'admin.plan': {request: AdminClaimantRequest; response: AdminResponse}
  'admin.commit': {request: AdminClaimantRequest; response: AdminResponse}
  'kv.conflicts': {request: ConflictsRequest; response: ConflictsResponse}
}

export type MessageType = keyof Messages
export type RequestOf<T extends MessageType> = Messages[T]['request']
export type ResponseOf<T extends MessageType> = Messages[T]['response']

export const clientMessageTypes = ['kv.get', 'kv.put', 'kv.delete', 'ring.get', 'kv.conflicts'] as const satisfies readonly MessageType[]
export const peerMessageTypes = [
  'replica.get',
  'replica.put',
  'replica.putMany',
  'node.ping',
  'gossip.push',
  'tree.branches',
  'tree.leaves',
  'tree.keys',
  'replica.reap',
] as const satisfies readonly MessageType[]
export const adminMessageTypes = ['admin.status', 'admin.faults', 'admin.stage', 'admin.plan', 'admin.commit'] as const satisfies readonly MessageType[]
export const messageTypes: readonly MessageType[] = [...clientMessageTypes, ...peerMessageTypes, ...adminMessageTypes]

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

function bytesList(type: string, fields: Fields, name: string): Uint8Array[] {
  const value = fields[name]
  if (!Array.isArray(value) || !value.every((item) => item instanceof Uint8Array)) {
    throw new BadRequestError(type, `${name} must be a list of byte strings`)
  }
  if (value.length > listLengthMax) throw new BadRequestError(type, `${name} has more than ${listLengthMax} items`)
  return value as Uint8Array[]
}

function countList(type: string, fields: Fields, name: string): number[] {
  const value = fields[name]
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'number' && Number.isSafeInteger(item) && item >= 0)) {
    throw new BadRequestError(type, `${name} must be a list of whole numbers`)
  }
  if (value.length > listLengthMax) throw new BadRequestError(type, `${name} has more than ${listLengthMax} items`)
  return value as number[]
}

function stringList(type: string, fields: Fields, name: string): string[] {
  const value = fields[name]
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new BadRequestError(type, `${name} must be a list of strings`)
  }
  if (value.length > listLengthMax) throw new BadRequestError(type, `${name} has more than ${listLengthMax} items`)
  return value as string[]
}

function string(type: string, fields: Fields, name: string): string {
  const value = optionalString(type, fields, name)
  if (value === undefined) throw new BadRequestError(type, `${name} is missing`)
  return value
}

/** Longest list in one request: a batch of keys or segments. The frame limit bounds the
 * bytes; this bounds the work one request can ask for. */
export const listLengthMax = 65_536

const reapPhases: ReadonlySet<string> = new Set(['check', 'delete'])

function reapPhase(fields: Fields): ReplicaReapRequest['phase'] {
  const value = fields.phase
  if (typeof value !== 'string' || !reapPhases.has(value)) throw new BadRequestError('replica.reap', 'phase must be check or delete')
  return value as ReplicaReapRequest['phase']
}

const stageActions: ReadonlySet<string> = new Set(['join', 'leave', 'remove', 'clear'])

function stageAction(fields: Fields): AdminStageRequest['action'] {
  const value = fields.action
  if (typeof value !== 'string' || !stageActions.has(value)) throw new BadRequestError('admin.stage', 'action must be join, leave, remove or clear')
  return value as AdminStageRequest['action']
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
  'replica.put': (f) =>
    compact<ReplicaPutRequest>({
      partition: count('replica.put', f, 'partition'),
      key: bytes('replica.put', f, 'key'),
      object: bytes('replica.put', f, 'object'),
      hintFor: optionalString('replica.put', f, 'hintFor'),
    }),
  'node.ping': (f) => ({from: string('node.ping', f, 'from')}),
  'replica.putMany': (f) => {
    const keys = bytesList('replica.putMany', f, 'keys')
    const objects = bytesList('replica.putMany', f, 'objects')
    if (keys.length !== objects.length) throw new BadRequestError('replica.putMany', 'keys and objects differ in length')
    return {partition: count('replica.putMany', f, 'partition'), keys, objects}
  },
  'replica.reap': (f) => {
    const keys = bytesList('replica.reap', f, 'keys')
    const digests = bytesList('replica.reap', f, 'digests')
    if (keys.length !== digests.length) throw new BadRequestError('replica.reap', 'keys and digests differ in length')
    return {partition: count('replica.reap', f, 'partition'), phase: reapPhase(f), keys, digests, primaries: stringList('replica.reap', f, 'primaries')}
  },
  'gossip.push': (f) => ({from: string('gossip.push', f, 'from'), view: string('gossip.push', f, 'view')}),
  'tree.branches': (f) => ({partition: count('tree.branches', f, 'partition')}),
  'tree.leaves': (f) => ({partition: count('tree.leaves', f, 'partition'), branches: countList('tree.leaves', f, 'branches')}),
  'tree.keys': (f) => ({partition: count('tree.keys', f, 'partition'), segments: countList('tree.keys', f, 'segments')}),
  'admin.status': () => ({}),
  'admin.faults': (f) => ({cut: stringList('admin.faults', f, 'cut')}),
  'admin.stage': (f) =>
    compact<AdminStageRequest>({
      action: stageAction(f),
      name: optionalString('admin.stage', f, 'name'),
      address: optionalString('admin.stage', f, 'address'),
      weight: optionalCount('admin.stage', f, 'weight'),
    }),
  'admin.plan': (f) => compact<AdminClaimantRequest>({forwarded: optionalFlag('admin.plan', f, 'forwarded')}),
  'admin.commit': (f) => compact<AdminClaimantRequest>({forwarded: optionalFlag('admin.commit', f, 'forwarded')}),
  'kv.conflicts': (f) => compact<ConflictsRequest>({after: conflictsAfter(f), limit: conflictsLimit(f)}),
}

function conflictsAfter(fields: Fields): Uint8Array | undefined {
  if (fields.after === undefined || fields.after === null) return undefined
  const after = bytes('kv.conflicts', fields, 'after')
  if (after.length > keyBytesMax) throw new BadRequestError('kv.conflicts', `after is ${after.length} bytes; a key has at most ${keyBytesMax}`)
  return after
}

function conflictsLimit(fields: Fields): number {
  const limit = count('kv.conflicts', fields, 'limit')
  if (limit < 1 || limit > conflictsPageMax) throw new BadRequestError('kv.conflicts', `limit must be from 1 to ${conflictsPageMax}, not ${limit}`)
  return limit
}
