// dyn under test: a local cluster of `dyn node start` processes from the built program
// (bin/run.js runs dist/), each with its own JSON config and data directory, driven through
// the client library (src/client) with partition-aware routing, its default.
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {DynClient, type DynClientOptions} from '../../src/client/index.js'
import {probeHealth} from '../../src/cluster/health.js'
import type {TlsClientSettings} from '../../src/net/index.js'
import type {Target} from './load.js'
import {loopback, type ProcessGroup} from './processes.js'

const programPath = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/** Everything that shapes the cluster, so that a variant (TLS, another N/R/W) is a preset
 * with a few fields changed rather than a second copy of this file. */
export interface DynClusterOptions {
  readonly cluster: string
  readonly nodes: number
  readonly n: number
  readonly r: number
  readonly w: number
  /** Q, a power of two. */
  readonly partitions: number
  /** The node's `sync` field: `always` acknowledges a write only after its fsync. */
  readonly sync: string
  /** More fields of every node's config file (docs/node.md), e.g. certificate paths. */
  readonly nodeConfig?: Readonly<Record<string, unknown>>
  /** More options of the client, e.g. a secret or TLS settings. */
  readonly client?: Partial<Omit<DynClientOptions, 'seeds' | 'cluster'>>
  /** The name of the rows: `dyn`, or `dyn-tls` for a cluster with TLS. */
  readonly system?: 'dyn' | 'dyn-tls'
  /** TLS settings the health checks of the HTTPS admin ports use. */
  readonly adminTls?: TlsClientSettings
}

/** The benchmark's cluster: DESIGN §4's defaults, N=3 R=2 W=2 on 3 nodes, Q=64, and
 * durable writes (every replica fsyncs before it acknowledges). */
export const dynDurablePreset: DynClusterOptions = {cluster: 'bench', nodes: 3, n: 3, r: 2, w: 2, partitions: 64, sync: 'always'}

/** Ports one node uses: the wire protocol and HTTP (/health). */
export const dynPortsPerNode = 2

/** Writes the configs, starts the nodes, waits for each one's /health, connects a client.
 * `ports` holds dynPortsPerNode × nodes free ports. */
export async function startDyn(options: {
  dir: string
  ports: readonly number[]
  processes: ProcessGroup
  cluster: DynClusterOptions
  /** The program the nodes run (bin/run.js of another build, for an A/B of two builds). */
  program?: string
  /** Node.js flags of every node process; `{node}` becomes the node's name
   * (`--cpu-prof-dir=/tmp/prof/{node}`). */
  nodeFlags?: readonly string[]
  /** More environment variables of every node process. */
  env?: Readonly<Record<string, string>>
}): Promise<Target> {
  const {dir, ports, processes, cluster} = options
  if (ports.length < cluster.nodes * dynPortsPerNode) throw new Error(`startDyn needs ${cluster.nodes * dynPortsPerNode} ports, got ${ports.length}`)
  const nodes = Array.from({length: cluster.nodes}, (_, i) => ({name: `n${i + 1}`, port: ports[i * dynPortsPerNode]!, httpPort: ports[i * dynPortsPerNode + 1]!}))
  const members = nodes.map((node) => ({name: node.name, address: `${loopback}:${node.port}`, weight: 1}))
  const started = []
  for (const node of nodes) {
    const nodeDir = join(dir, node.name)
    await mkdir(nodeDir, {recursive: true})
    const config = {
      cluster: cluster.cluster,
      name: node.name,
      listen: {host: loopback, port: node.port},
      http: {host: loopback, port: node.httpPort},
      dataDir: join(nodeDir, 'data'),
      members,
      n: cluster.n,
      r: cluster.r,
      w: cluster.w,
      partitions: cluster.partitions,
      sync: cluster.sync,
      ...cluster.nodeConfig,
    }
    const configPath = join(nodeDir, 'node.json')
    await writeFile(configPath, JSON.stringify(config, null, 2))
    const runtimeFlags = (options.nodeFlags ?? []).map((flag) => flag.replaceAll('{node}', node.name))
    const program = options.program ?? programPath
    const child = processes.spawn(process.execPath, [...runtimeFlags, program, 'node', 'start', '--config', configPath], join(nodeDir, 'node.log'), options.env)
    started.push({node, child})
  }
  for (const {node, child} of started) {
    const healthy = async (): Promise<boolean> =>
      cluster.adminTls === undefined ? (await fetch(`http://${loopback}:${node.httpPort}/health`)).ok : (await probeHealth(`${loopback}:${node.httpPort}`, {tls: cluster.adminTls})).ok
    await processes.waitReady(child, healthy, `dyn node ${node.name}`)
  }
  const client = new DynClient({...cluster.client, seeds: members.map((member) => member.address), cluster: cluster.cluster})
  // Fetch the ring before the clock starts, so the first measurement does not pay for it.
  await client.ring()
  return {
    system: cluster.system ?? 'dyn',
    put: async (_worker, key, value) => {
      await client.put(key, value)
    },
    get: async (_worker, key) => (await client.get(key)).found,
    close: () => client.close(),
  }
}
