// The local cluster directory (default ./.dyn): cluster.json describes the cluster and its
// nodes, each node has a folder with its configuration (node.json, the contract read by
// `dyn node start --config`), its store (data/) and its log (node.log).
//
//   DIR/cluster.json   {version, cluster, n, r, w, partitions, sync, nodes: [...]}
//   DIR/n1/node.json   the node configuration
//   DIR/n1/data/       the node's store
//   DIR/n1/node.log    the node's stdout and stderr
import {mkdir, readFile, rename, writeFile} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {DynError, exitCodes} from '../core/errors.js'

/** Version of cluster.json; a file of another version is refused, never guessed at. */
export const clusterFileVersion = 1

export const clusterFileName = 'cluster.json'

/** Largest cluster.json read: a few hundred bytes per node. */
const clusterFileBytesMax = 1024 * 1024

export interface NodeEntry {
  readonly name: string
  readonly host: string
  /** Wire-protocol port (clients and peers). */
  readonly port: number
  /** HTTP port of /health, /status, /metrics. */
  readonly httpPort: number
  readonly configPath: string
  readonly dataDir: string
  readonly logPath: string
  /** Process id of the last start; null when stopped by `down`. */
  readonly pid: number | null
}

export interface ClusterFile {
  readonly version: typeof clusterFileVersion
  readonly cluster: string
  readonly n: number
  readonly r: number
  readonly w: number
  readonly partitions: number
  readonly sync: string
  readonly nodes: readonly NodeEntry[]
  /** The cut each node was told by the last `dyn cluster partition` (absent or empty after
   * `heal`): a node keeps its cut across restarts, and `cluster start` and `cluster up`
   * tell a started node this one, so that a node stopped during a heal does not come back
   * cut off, nor one stopped during a partition come back whole. */
  readonly cuts?: Readonly<Record<string, readonly string[]>>
}

/** The node configuration of issue #4 (`dyn node start --config`). */
export interface NodeConfigFile {
  readonly cluster: string
  readonly name: string
  readonly listen: {readonly host: string; readonly port: number}
  readonly http: {readonly host: string; readonly port: number}
  readonly dataDir: string
  readonly members: readonly {readonly name: string; readonly address: string; readonly weight: number}[]
  readonly n: number
  readonly r: number
  readonly w: number
  readonly partitions: number
  readonly sync: string
}

export class ClusterNotFoundError extends DynError {
  constructor(dir: string) {
    super(`no local cluster in ${dir} (${clusterFileName} is missing)`, {
      code: 'CLUSTER_NOT_FOUND',
      exitCode: exitCodes.error,
      suggestion: 'start one with `dyn cluster up`, point --dir (or DYN_DIR) at its directory, or give a node with --host HOST:PORT',
    })
  }
}

export class ClusterDirectoryError extends DynError {
  constructor(dir: string) {
    super(`${dir} is a file, not a cluster directory`, {
      code: 'USAGE',
      exitCode: exitCodes.usage,
      suggestion: 'give --dir (or DYN_DIR) a directory: a new one for `dyn cluster up`, or the one it wrote',
    })
  }
}

export class ClusterFileError extends DynError {
  constructor(path: string, problem: string) {
    super(`${path} is not a valid cluster file: ${problem}`, {
      code: 'CLUSTER_FILE_INVALID',
      exitCode: exitCodes.error,
      suggestion: 'stop the nodes by their pids, remove the directory and run `dyn cluster up` again',
    })
  }
}

export function clusterFilePath(dir: string): string {
  return join(resolve(dir), clusterFileName)
}

/** The node's folder and files under the cluster directory. */
export function nodePaths(dir: string, name: string): {configPath: string; dataDir: string; logPath: string} {
  const nodeDir = join(resolve(dir), name)
  return {configPath: join(nodeDir, 'node.json'), dataDir: join(nodeDir, 'data'), logPath: join(nodeDir, 'node.log')}
}

export function addressOf(node: Pick<NodeEntry, 'host' | 'port'>): string {
  return `${node.host}:${node.port}`
}

export function httpAddressOf(node: Pick<NodeEntry, 'host' | 'httpPort'>): string {
  return `${node.host}:${node.httpPort}`
}

/** Reads DIR/cluster.json, or undefined when there is none. */
export async function readClusterFileIfAny(dir: string): Promise<ClusterFile | undefined> {
  const path = clusterFilePath(dir)
  let text: string
  try {
    const bytes = await readFile(path)
    if (bytes.length > clusterFileBytesMax) throw new ClusterFileError(path, `it is over ${clusterFileBytesMax} bytes`)
    text = bytes.toString('utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    if (code === 'ENOTDIR') throw new ClusterDirectoryError(dir)
    throw error
  }
  return parseClusterFile(path, text)
}

export async function readClusterFile(dir: string): Promise<ClusterFile> {
  const file = await readClusterFileIfAny(dir)
  if (file === undefined) throw new ClusterNotFoundError(resolve(dir))
  return file
}

/** Writes DIR/cluster.json atomically (write then rename): a crash never leaves half a file. */
export async function writeClusterFile(dir: string, file: ClusterFile): Promise<void> {
  const path = clusterFilePath(dir)
  await mkdir(resolve(dir), {recursive: true})
  await writeFile(`${path}.tmp`, JSON.stringify(file, null, 2) + '\n')
  await rename(`${path}.tmp`, path)
}

export async function writeNodeConfig(path: string, config: NodeConfigFile): Promise<void> {
  await writeFile(path, JSON.stringify(config, null, 2) + '\n')
}

function parseClusterFile(path: string, text: string): ClusterFile {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new ClusterFileError(path, `not JSON (${error instanceof Error ? error.message : String(error)})`)
  }
  const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  if (record.version !== clusterFileVersion) throw new ClusterFileError(path, `version is ${String(record.version)}, not ${clusterFileVersion}`)
  for (const field of ['n', 'r', 'w', 'partitions'] as const) {
    if (!Number.isSafeInteger(record[field])) throw new ClusterFileError(path, `${field} is not a whole number`)
  }
  if (typeof record.cluster !== 'string' || typeof record.sync !== 'string') throw new ClusterFileError(path, 'cluster or sync is not a string')
  if (!Array.isArray(record.nodes) || record.nodes.length === 0) throw new ClusterFileError(path, 'nodes is not a non-empty list')
  for (const node of record.nodes as unknown[]) checkNodeEntry(path, node)
  if (record.cuts !== undefined) {
    const cuts = record.cuts
    if (typeof cuts !== 'object' || cuts === null || Array.isArray(cuts) || !Object.values(cuts).every((cut) => Array.isArray(cut) && cut.every((name) => typeof name === 'string'))) {
      throw new ClusterFileError(path, 'cuts is not a map from node names to lists of node names')
    }
  }
  return value as ClusterFile
}

function checkNodeEntry(path: string, node: unknown): void {
  const entry = (typeof node === 'object' && node !== null ? node : {}) as Record<string, unknown>
  for (const field of ['name', 'host', 'configPath', 'dataDir', 'logPath'] as const) {
    if (typeof entry[field] !== 'string') throw new ClusterFileError(path, `a node's ${field} is not a string`)
  }
  for (const field of ['port', 'httpPort'] as const) {
    if (!Number.isSafeInteger(entry[field])) throw new ClusterFileError(path, `node ${String(entry.name)}: ${field} is not a whole number`)
  }
  if (entry.pid !== null && !Number.isSafeInteger(entry.pid)) throw new ClusterFileError(path, `node ${String(entry.name)}: pid is not a number or null`)
}
