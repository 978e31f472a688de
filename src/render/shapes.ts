// The JSON shapes the commands print (docs/cli.md). Every shape has `version`
// (jsonShapeVersion); tokens and hashes are strings; fields are never renamed within a
// version. Inputs are plain data so the shell can render the same shapes.
import type {Dot} from '../core/causality.js'
import type {SiblingView, SiblingsWarningView} from '../core/protocol.js'
import type {GetQuorumDetails, PutQuorumDetails, ReplyDetail} from '../core/quorum.js'
import type {Ring} from '../core/ring.js'
import {ownershipSummary} from '../core/ring.js'
import {jsonShapeVersion} from './json.js'
import {valueJson} from './value.js'

export interface ReplyJson {
  node: string
  status: ReplyDetail['status']
  ms: number
  fallbackFor?: string
  error?: string
}

export interface GetQuorumJson {
  coordinator: string
  n: number
  r: number
  ok: boolean
  replies: ReplyJson[]
  pending: string[]
  readRepair: string[]
}

export interface PutQuorumJson {
  coordinator: string
  n: number
  w: number
  ok: boolean
  replies: ReplyJson[]
  pending: string[]
}

/** Latencies to a microsecond: finer digits are noise. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

function replyJson(reply: ReplyDetail): ReplyJson {
  return {
    node: reply.node,
    status: reply.status,
    ms: roundMs(reply.ms),
    ...(reply.fallbackFor === undefined ? {} : {fallbackFor: reply.fallbackFor}),
    ...(reply.error === undefined ? {} : {error: reply.error}),
  }
}

export function quorumJson(quorum: GetQuorumDetails): GetQuorumJson
export function quorumJson(quorum: PutQuorumDetails): PutQuorumJson
export function quorumJson(quorum: GetQuorumDetails | PutQuorumDetails): GetQuorumJson | PutQuorumJson
export function quorumJson(quorum: GetQuorumDetails | PutQuorumDetails): GetQuorumJson | PutQuorumJson {
  const common = {coordinator: quorum.coordinator, n: quorum.n}
  const replies = quorum.replies.map(replyJson)
  if (quorum.op === 'get') {
    return {...common, r: quorum.r, ok: quorum.ok, replies, pending: [...quorum.pending], readRepair: [...quorum.readRepair]}
  }
  return {...common, w: quorum.w, ok: quorum.ok, replies, pending: [...quorum.pending]}
}

export interface GetJsonInput {
  key: string
  found: boolean
  siblings: readonly SiblingView[]
  context: string
  quorum: GetQuorumDetails
  /** The readable version vector, with --show-clock. */
  clock?: string
}

export function getJson(input: GetJsonInput) {
  return {
    version: jsonShapeVersion,
    key: input.key,
    found: input.found,
    siblings: input.siblings.map((sibling) => ({...valueJson(sibling.value), dot: dotJson(sibling.dot)})),
    context: input.context,
    ...(input.clock === undefined ? {} : {clock: input.clock}),
    quorum: quorumJson(input.quorum),
  }
}

export interface PutJsonInput {
  key: string
  context: string
  dot: Dot
  siblings: number
  quorum: PutQuorumDetails
  warning?: SiblingsWarningView
  clock?: string
}

export function putJson(input: PutJsonInput) {
  return {
    version: jsonShapeVersion,
    key: input.key,
    context: input.context,
    ...(input.clock === undefined ? {} : {clock: input.clock}),
    dot: dotJson(input.dot),
    siblings: input.siblings,
    ...(input.warning === undefined ? {} : {warning: {code: input.warning.code, message: input.warning.message}}),
    quorum: quorumJson(input.quorum),
  }
}

function dotJson(dot: Dot): {node: string; counter: number} {
  return {node: dot.node, counter: dot.counter}
}

export interface NodeStatusInput {
  name: string
  address: string
  httpAddress: string
  pid: number | null
  state: string
}

export function clusterStatusJson(input: {dir: string; cluster: string; nodes: readonly NodeStatusInput[]}) {
  return {
    version: jsonShapeVersion,
    dir: input.dir,
    cluster: input.cluster,
    nodes: input.nodes.map((node) => ({name: node.name, address: node.address, httpAddress: node.httpAddress, pid: node.pid, state: node.state})),
  }
}

export function clusterDownJson(input: {dir: string; nodes: readonly {name: string; pid: number | null; outcome: string}[]}) {
  return {version: jsonShapeVersion, dir: input.dir, nodes: input.nodes.map((node) => ({name: node.name, pid: node.pid, outcome: node.outcome}))}
}

export interface RingJsonInput {
  ring: Ring
  n: number
  addresses: readonly {name: string; address: string}[]
}

export function ringJson(input: RingJsonInput) {
  const addresses = new Map(input.addresses.map((node) => [node.name, node.address]))
  return {
    version: jsonShapeVersion,
    ringVersion: input.ring.version,
    partitions: input.ring.partitionCount,
    n: input.n,
    nodes: ownershipSummary(input.ring).map((owner) => ({
      name: owner.node,
      address: addresses.get(owner.node) ?? null,
      weight: owner.weight,
      partitions: owner.partitions,
      target: roundMs(owner.target),
    })),
    owners: [...input.ring.owners],
  }
}

export interface RingKeyJsonInput {
  key: string
  /** The key's ring position, 32 hex digits. */
  hash: string
  partition: number
  preferenceList: readonly string[]
  fallbacks: readonly string[]
}

export function ringKeyJson(input: RingKeyJsonInput) {
  return {
    version: jsonShapeVersion,
    key: input.key,
    hash: input.hash,
    partition: input.partition,
    preferenceList: [...input.preferenceList],
    fallbacks: [...input.fallbacks],
  }
}

/** An error answer of --json that carries the quorum result of a failed get or put. */
export function quorumFailureJson(
  error: {code: string; message: string; exitCode: number; suggestion?: string},
  quorum: GetQuorumDetails | PutQuorumDetails,
) {
  return {version: jsonShapeVersion, error: {...error, quorum: quorumJson(quorum)}}
}
