// The polling half of `dyn top`: which nodes to look at (every node of a local cluster
// directory, re-read at each poll so that joins and stops show; or the HTTP admin addresses
// given with --host) and one look at each: GET /status and GET /metrics (docs/node.md) in
// parallel. Turning the answers into rows is core/top.ts; this module only does the I/O.
import {resolve} from 'node:path'
import fetch from 'node-fetch'
import {clientTls, parseAddress} from '../client/index.js'
import {DynError, exitCodes} from '../core/errors.js'
import {parseExposition} from '../core/exposition.js'
import {figuresOf, type NodePoll} from '../core/top.js'
import {adminHttp, type AdminHttp} from './admin-http.js'
import {httpAddressOf, readClusterFile} from './layout.js'

/** Largest /status or /metrics answer read: a node's are a few KiB (a /status listing every
 * handoff of a 4096-partition ring stays far below). More is not a dyn node. */
export const topResponseBytesMax = 4 * 1024 * 1024

/** How long one look at a node may take: the interval between looks, but at least 1 s, so
 * that a busy node on a loaded machine is not shown as unreachable at short intervals, and at
 * most 5 s, so that a node that stalls does not freeze the view. */
export function pollTimeoutMsFor(intervalMs: number): number {
  return Math.min(5_000, Math.max(1_000, intervalMs))
}

/** None of the HTTP addresses given with --host answered. */
export class TopHostsUnreachableError extends DynError {
  constructor(problems: readonly string[]) {
    super(`no node answered: ${problems.join('; ')}`, {
      code: 'NO_NODE_RUNNING',
      exitCode: exitCodes.error,
      suggestion: "give --host the node's HTTP admin address (its http.port, where /status and /metrics answer), not its wire port",
    })
  }
}

export type TopSource = {readonly kind: 'dir'; readonly dir: string} | {readonly kind: 'hosts'; readonly hosts: readonly string[]}

export interface TopTarget {
  /** The node's name; for --host, the address until the node has said its name. */
  readonly name: string
  readonly httpAddress: string
  /** False for a node of a local cluster that no process runs (cluster.json has no pid). */
  readonly running: boolean
}

export interface TopTargets {
  readonly cluster: string | undefined
  readonly targets: readonly TopTarget[]
}

/** The nodes to look at now. A local directory without a cluster fails (ClusterNotFoundError). */
export async function topTargets(source: TopSource): Promise<TopTargets> {
  if (source.kind === 'hosts') {
    const hosts = [...new Set(source.hosts)]
    for (const host of hosts) parseAddress(host)
    return {cluster: undefined, targets: hosts.map((host) => ({name: host, httpAddress: host, running: true}))}
  }
  const file = await readClusterFile(resolve(source.dir))
  return {cluster: file.cluster, targets: file.nodes.map((node) => ({name: node.name, httpAddress: httpAddressOf(node), running: node.pid !== null}))}
}

/** One look at one node; never throws. `nowMs` is read once the node answered (or failed). */
export async function pollNode(target: TopTarget, options: {timeoutMs: number; nowMs: () => number}): Promise<NodePoll> {
  const {name, httpAddress} = target
  if (!target.running) return {kind: 'stopped', name, httpAddress, atMs: options.nowMs()}
  try {
    const signal = AbortSignal.timeout(options.timeoutMs)
    const [status, metrics] = await Promise.all([fetchText(httpAddress, '/status', signal), fetchText(httpAddress, '/metrics', signal)])
    const document = JSON.parse(status) as unknown
    const figures = figuresOf(document, parseExposition(metrics).samples)
    const said = typeof (document as {name?: unknown}).name === 'string' ? (document as {name: string}).name : name
    return {kind: 'up', name: said, httpAddress, atMs: options.nowMs(), figures}
  } catch (error) {
    return {kind: 'unreachable', name, httpAddress, atMs: options.nowMs(), problem: problemOf(error)}
  }
}

/** HTTPS with the command's TLS settings (--tls-*, DYN_TLS_*), made once per process. */
let http: AdminHttp | undefined

async function fetchText(httpAddress: string, path: string, signal: AbortSignal): Promise<string> {
  http ??= adminHttp(clientTls())
  const response = await fetch(http.url(httpAddress, path), {signal, size: topResponseBytesMax, ...(http.agent === undefined ? {} : {agent: http.agent})})
  if (response.status !== 200) throw new DynError(`${path} answered HTTP ${response.status}`, {code: 'BAD_RESPONSE'})
  return response.text()
}

function problemOf(error: unknown): string {
  if (error instanceof Error && error.name === 'AbortError') return 'no answer in time'
  if (error instanceof SyntaxError) return '/status is not JSON'
  const code = (error as {code?: unknown}).code
  if (code === 'ECONNREFUSED') return 'connection refused'
  const message = error instanceof Error ? error.message : ''
  if (/wrong version number/i.test(message)) return 'the admin port answers plain HTTP, not HTTPS: drop --tls-ca (DYN_TLS_CA) for this node'
  if (code === 'ECONNRESET' && http?.agent === undefined) return 'the connection was reset: if the node serves TLS, give its CA with --tls-ca (DYN_TLS_CA)'
  return error instanceof Error ? error.message : String(error)
}
