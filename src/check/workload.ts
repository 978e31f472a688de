// The clients of a `dyn check` run: each writes and reads keys through random nodes the way
// a careful application does (docs/check.md). It reads the key, takes every sibling it got
// as seen (its new value merges them), and writes with the context of that read, so its
// write supersedes exactly what it saw; a failed read is not followed by a write. Every
// operation is recorded when invoked and when it completes.
import {Buffer} from 'node:buffer'
import {setTimeout as sleep} from 'node:timers/promises'
import {DynClient, type GetResult, type PutResult} from '../client/index.js'
import {decodeContext, type VersionVector} from '../core/causality.js'
import {DynError} from '../core/errors.js'
import {randomInt, randomPick, SeededRandom, type Random} from '../core/random.js'
import type {Operation, Outcome} from './history.js'

/** How long a client waits for one answer. Above a coordinator's worst case (a forward,
 * then a replica timeout of 2 s each, docs/node.md) so a slow answer is not cut short, and
 * below the longest pause, so a paused node's requests end while the run goes on. */
export const clientTimeoutMs = 6_000

/** Pause between one client's operations: keeps a run's history in the thousands of
 * operations per minute, which the checker and the timeline handle at once. */
export const thinkMsMin = 10
export const thinkMsMax = 60

/** Share of reads followed by a write (the rest are plain reads), in percent. */
export const writeAfterReadPercent = 75

/** Errors after which a write certainly had no effect: it never reached a node. */
const notSentCodes: ReadonlySet<string> = new Set(['NO_NODE_REACHABLE', 'CONNECT_FAILED', 'CONTEXT_INVALID', 'BAD_REQUEST', 'SIBLING_LIMIT'])

export interface Recorder {
  nowMs(): number
  nextId(): number
  invoked(op: Operation): void
  completed(op: Operation): void
}

export interface ClientOptions {
  readonly name: string
  readonly seed: number
  readonly cluster: string
  /** Node name → wire address. */
  readonly nodes: ReadonlyMap<string, string>
  readonly keys: readonly string[]
  readonly recorder: Recorder
  /** True while the client should go on. */
  readonly running: () => boolean
}

export async function runClient(options: ClientOptions): Promise<void> {
  const random = new SeededRandom(options.seed)
  const names = [...options.nodes.keys()]
  // One client per node, each sending only to its node (which forwards when it is not a
  // replica), so that a request really goes through the node chosen.
  const clients = new Map(names.map((name) => [name, new DynClient({seeds: [options.nodes.get(name)!], cluster: options.cluster, routing: 'direct', timeoutMs: clientTimeoutMs, name: `dyn-check-${options.name}`, tls: null})]))
  let sequence = 0
  try {
    while (options.running()) {
      const key = randomPick(random, options.keys)
      const read = await get(options, clients, randomPick(random, names), key)
      const write = randomInt(random, 100) < writeAfterReadPercent
      const node = randomPick(random, names)
      if (write && read.result !== undefined && options.running()) {
        sequence++
        await put(options, clients, node, key, {value: `${options.name}-${sequence}`, context: read.result.context, readOp: read.op.id})
      }
      await sleep(think(random))
    }
  } finally {
    await Promise.all([...clients.values()].map((client) => client.close()))
  }
}

function think(random: Random): number {
  return thinkMsMin + randomInt(random, thinkMsMax - thinkMsMin + 1)
}

async function get(options: ClientOptions, clients: ReadonlyMap<string, DynClient>, node: string, key: string): Promise<{op: Operation; result?: GetResult}> {
  const op: Operation = {id: options.recorder.nextId(), client: options.name, node, kind: 'get', key, invokeMs: options.recorder.nowMs()}
  options.recorder.invoked(op)
  try {
    const result = await clients.get(node)!.get(key)
    op.returnedContext = decode(result.context, options.cluster)
    op.siblings = result.siblings.map((sibling) => ({dot: sibling.dot, value: text(sibling.value)}))
    finish(options, op, 'ok')
    return {op, result}
  } catch (error) {
    finish(options, op, isCode(error, 'TIMEOUT') ? 'unknown' : 'fail', error)
    return {op}
  }
}

async function put(
  options: ClientOptions,
  clients: ReadonlyMap<string, DynClient>,
  node: string,
  key: string,
  write: {value: string; context: string; readOp: number},
): Promise<void> {
  const context = decode(write.context, options.cluster)
  const op: Operation = {id: options.recorder.nextId(), client: options.name, node, kind: 'put', key, value: write.value, context, readOp: write.readOp, invokeMs: options.recorder.nowMs()}
  options.recorder.invoked(op)
  let result: PutResult
  try {
    result = await clients.get(node)!.put(key, write.value, {context: write.context})
  } catch (error) {
    finish(options, op, error instanceof DynError && notSentCodes.has(error.code) ? 'fail' : 'unknown', error)
    return
  }
  op.dot = result.dot
  op.returnedContext = decode(result.context, options.cluster)
  op.acknowledgedBy = result.quorum.replies
    .filter((reply) => reply.status === 'ok')
    .map((reply) => ({node: reply.node, ...(reply.fallbackFor === undefined ? {} : {fallbackFor: reply.fallbackFor})}))
  finish(options, op, 'ok')
}

function finish(options: ClientOptions, op: Operation, outcome: Outcome, error?: unknown): void {
  op.completeMs = options.recorder.nowMs()
  op.outcome = outcome
  if (error !== undefined) op.error = error instanceof DynError ? error.code : String(error)
  options.recorder.completed(op)
}

function decode(token: string, cluster: string): VersionVector {
  return decodeContext(token, {cluster})
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof DynError && error.code === code
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
}
