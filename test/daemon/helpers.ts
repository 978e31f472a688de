// Shared setup for the daemon tests: free ports on 127.0.0.1, temporary directories and
// in-process daemons, all tracked so that afterEach closes and removes them even when a
// test failed.
import {mkdtemp, rm} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseConfig, startDaemon, type Daemon, type DaemonConfig} from '../../src/daemon/index.js'
import {connect, type Connection} from '../../src/net/index.js'

export const host = '127.0.0.1'
export const cluster = 'test'

/** A port that was free a moment ago (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({host, port: 0}, () => resolve())
  })
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort())
  return [...ports]
}

export interface NodeSpec {
  name: string
  wirePort: number
  httpPort: number
  dataDir: string
}

/** Everything a test opened; `cleanup` closes and removes it all. */
export class Tracker {
  readonly logs: string[] = []
  private readonly daemons: Daemon[] = []
  private readonly connections: Connection[] = []
  private readonly dirs: string[] = []
  private readonly cleanups: (() => Promise<void> | void)[] = []

  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'dyn-daemon-'))
    this.dirs.push(dir)
    return dir
  }

  /** Specs of a cluster of `count` nodes n1..nK on free ports, each with its own data dir. */
  async clusterSpecs(count: number): Promise<NodeSpec[]> {
    const root = await this.tempDir()
    const ports = await freePorts(count * 2)
    return Array.from({length: count}, (_, index) => ({
      name: `n${index + 1}`,
      wirePort: ports[index * 2] ?? 0,
      httpPort: ports[index * 2 + 1] ?? 0,
      dataDir: join(root, `n${index + 1}`),
    }))
  }

  configOf(spec: NodeSpec, specs: readonly NodeSpec[], extra: Record<string, unknown> = {}): DaemonConfig {
    return parseConfig(
      {
        cluster,
        name: spec.name,
        listen: {host, port: spec.wirePort},
        http: {host, port: spec.httpPort},
        dataDir: spec.dataDir,
        members: specs.map((other) => ({name: other.name, address: `${host}:${other.wirePort}`})),
        n: Math.min(3, specs.length),
        r: Math.min(2, specs.length),
        w: Math.min(2, specs.length),
        partitions: 16,
        sync: 'none',
        requestTimeoutMs: 1000,
        ...extra,
      },
      {baseDir: '/'},
    )
  }

  async start(config: DaemonConfig): Promise<Daemon> {
    const daemon = await startDaemon(config, {logger: (line) => this.logs.push(line)})
    this.daemons.push(daemon)
    return daemon
  }

  async startCluster(count: number, extra: Record<string, unknown> = {}): Promise<{specs: NodeSpec[]; daemons: Daemon[]}> {
    const specs = await this.clusterSpecs(count)
    const daemons = await Promise.all(specs.map((spec) => this.start(this.configOf(spec, specs, extra))))
    return {specs, daemons}
  }

  async client(address: string): Promise<Connection> {
    const [hostPart, port] = address.split(':')
    const connection = await connect({host: hostPart ?? host, port: Number(port), identity: {cluster, role: 'client', name: 'test-client'}})
    this.connections.push(connection)
    return connection
  }

  onCleanup(work: () => Promise<void> | void): void {
    this.cleanups.push(work)
  }

  async cleanup(): Promise<void> {
    for (const connection of this.connections) connection.destroy('test over')
    for (const work of this.cleanups) await work()
    await Promise.allSettled(this.daemons.map((daemon) => daemon.close()))
    for (const dir of this.dirs) await rm(dir, {recursive: true, force: true})
    this.connections.length = 0
    this.cleanups.length = 0
    this.daemons.length = 0
    this.dirs.length = 0
  }
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

export function text(value: Uint8Array): string {
  return new TextDecoder().decode(value)
}

/** A promise that rejects after `ms`, to bound a wait that must not hang a test. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}
