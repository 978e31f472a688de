// Which node(s) a command talks to (DESIGN §8): one node of the local cluster by --node
// NAME, else any node by --host HOST:PORT (env DYN_HOST), or else the whole local cluster
// in --dir (env DYN_DIR, default ./.dyn) with partition-aware routing.
import {resolve} from 'node:path'
import {clusterNameDefault, parseAddress, type Routing} from '../client/index.js'
import {UnknownClusterNodeError} from './errors.js'
import {addressOf, readClusterFile, readClusterFileIfAny} from './layout.js'

export interface TargetOptions {
  readonly host?: string | undefined
  readonly node?: string | undefined
  readonly dir: string
  /** --cluster or DYN_CLUSTER; otherwise the cluster directory's name, otherwise "dyn". */
  readonly cluster?: string | undefined
}

export interface Target {
  readonly seeds: readonly string[]
  readonly cluster: string
  readonly routing: Routing
}

export async function resolveTarget(options: TargetOptions): Promise<Target> {
  const dir = resolve(options.dir)
  if (options.host !== undefined && options.node === undefined) {
    parseAddress(options.host)
    const file = options.cluster === undefined ? await readClusterFileIfAny(dir).catch(() => undefined) : undefined
    return {seeds: [options.host], cluster: options.cluster ?? file?.cluster ?? clusterNameDefault, routing: 'direct'}
  }
  const file = await readClusterFile(dir)
  const cluster = options.cluster ?? file.cluster
  if (options.node !== undefined) {
    const node = file.nodes.find((entry) => entry.name === options.node)
    if (node === undefined) throw new UnknownClusterNodeError(options.node, file.nodes.map((entry) => entry.name))
    return {seeds: [addressOf(node)], cluster, routing: 'direct'}
  }
  return {seeds: file.nodes.map(addressOf), cluster, routing: 'partition-aware'}
}
