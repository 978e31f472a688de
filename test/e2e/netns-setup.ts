// A small multi-host testbed on one machine (DESIGN §9, §10.4): one network namespace per
// node, one for the client, and one holding a bridge that connects them through veth
// pairs; every address (10.213.1.0/24) and every link lives inside namespaces created
// here, so no traffic touches the host's own network. Cutting a node's link is
// `ip link set down` on its port of the bridge.
//
//   [run-n1: eth0 10.213.1.11] ──veth── p-n1 ┐
//   [run-n2: eth0 10.213.1.12] ──veth── p-n2 ├─ br0 in run-sw
//   ...                                      │
//   [run-c:  eth0 10.213.1.2 ] ──veth── p-c  ┘
//
// Needs root (CAP_NET_ADMIN); installs iproute2 when `ip` is missing.
import {randomBytes} from 'node:crypto'
import {createWriteStream} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {programCommand, type NodeConfigFile} from '../../src/cluster/index.js'
import {ensureProgram} from './debian.js'

export const subnet = '10.213.1'
export const wirePort = 7001
export const httpPort = 8001

export interface TestbedNode {
  readonly name: string
  readonly namespace: string
  readonly ip: string
  /** host:port of its wire listener, reachable from the client namespace. */
  readonly address: string
  readonly logPath: string
}

/** A process the test started and must end. */
export interface Spawned {
  kill(signal: NodeJS.Signals): boolean
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<unknown>
}

export interface Testbed {
  readonly switchNamespace: string
  readonly clientNamespace: string
  readonly nodes: readonly TestbedNode[]
  readonly namespaces: readonly string[]
}

async function run(command: string, args: readonly string[]): Promise<void> {
  const result = await execa(command, args, {reject: false})
  if (result.exitCode !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${String(result.exitCode)}): ${String(result.stderr)}`)
}

/** Installs iproute2 when there is no `ip` command. */
export function ensureIpCommand(): Promise<void> {
  return ensureProgram('ip', '-V', 'iproute2')
}

/** Creates the namespaces, the bridge and the links; on any failure removes what it made. */
export async function createTestbed(nodeNames: readonly string[], dir: string): Promise<Testbed> {
  const prefix = `dyn-${randomBytes(3).toString('hex')}`
  const nodes = nodeNames.map((name, index): TestbedNode => {
    const ip = `${subnet}.${11 + index}`
    return {name, namespace: `${prefix}-${name}`, ip, address: `${ip}:${wirePort}`, logPath: join(dir, `${name}.log`)}
  })
  const bed: Testbed = {
    switchNamespace: `${prefix}-sw`,
    clientNamespace: `${prefix}-c`,
    nodes,
    namespaces: [`${prefix}-sw`, `${prefix}-c`, ...nodes.map((node) => node.namespace)],
  }
  try {
    for (const namespace of bed.namespaces) await createNamespace(namespace)
    const sw = bed.switchNamespace
    await run('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge'])
    await run('ip', ['-n', sw, 'link', 'set', 'br0', 'up'])
    await attach(bed, bed.clientNamespace, 'p-c', `${subnet}.2`)
    for (const node of nodes) await attach(bed, node.namespace, portOf(node), node.ip)
  } catch (error) {
    await destroyTestbed(bed)
    throw error
  }
  return bed
}

async function createNamespace(namespace: string): Promise<void> {
  const result = await execa('ip', ['netns', 'add', namespace], {reject: false})
  if (result.exitCode !== 0) {
    throw new Error(`cannot create network namespace ${namespace}: ${String(result.stderr)} (this test needs root or CAP_NET_ADMIN)`)
  }
  await run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up'])
}

/** A veth pair from the bridge's namespace into `namespace`, named eth0 there. */
async function attach(bed: Testbed, namespace: string, port: string, ip: string): Promise<void> {
  const sw = bed.switchNamespace
  await run('ip', ['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace])
  await run('ip', ['-n', sw, 'link', 'set', port, 'master', 'br0', 'up'])
  await run('ip', ['-n', namespace, 'addr', 'add', `${ip}/24`, 'dev', 'eth0'])
  await run('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up'])
}

function portOf(node: TestbedNode): string {
  return `p-${node.name}`
}

/** Takes the node's bridge port down: its frames go nowhere, as on an unplugged cable. */
export async function cutLink(bed: Testbed, node: TestbedNode): Promise<void> {
  await run('ip', ['-n', bed.switchNamespace, 'link', 'set', portOf(node), 'down'])
}

export async function restoreLink(bed: Testbed, node: TestbedNode): Promise<void> {
  await run('ip', ['-n', bed.switchNamespace, 'link', 'set', portOf(node), 'up'])
}

/** Deletes every namespace of the testbed (their links go with them); never throws. */
export async function destroyTestbed(bed: Testbed): Promise<void> {
  for (const namespace of bed.namespaces) await execa('ip', ['netns', 'del', namespace], {reject: false})
}

/** Writes the node's configuration and runs `dyn node start` inside its namespace. */
export async function startNode(options: {bed: Testbed; node: TestbedNode; dir: string; n: number; r: number; w: number}): Promise<Spawned> {
  const {bed, node, dir} = options
  // Namespaces on a private bridge that nothing else reaches: an open listener is what is meant.
  const config: NodeConfigFile & {insecure: boolean} = {
    cluster: 'dyn',
    name: node.name,
    listen: {host: node.ip, port: wirePort},
    http: {host: node.ip, port: httpPort},
    dataDir: join(dir, node.name, 'data'),
    members: bed.nodes.map((member) => ({name: member.name, address: member.address, weight: 1})),
    n: options.n,
    r: options.r,
    w: options.w,
    partitions: 16,
    sync: 'always',
    insecure: true,
  }
  const configPath = join(dir, `${node.name}.json`)
  await writeFile(configPath, JSON.stringify(config, null, 2))
  const program = programCommand()
  const log = createWriteStream(node.logPath)
  const child = execa('ip', ['netns', 'exec', node.namespace, program.file, ...program.args, 'node', 'start', '--config', configPath], {reject: false, stdin: 'ignore'})
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  // Not the child itself: it is a promise of the exit, and awaiting it would wait for that.
  return {kill: (signal) => child.kill(signal), exited: child.then(() => undefined)}
}

/** Waits until the node's log says it serves; throws with the log when it does not. */
export async function waitServing(node: TestbedNode, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const log = await readFile(node.logPath, 'utf8').catch(() => '')
    if (log.includes('serving wire=')) return
    if (performance.now() > deadline) throw new Error(`${node.name} did not start within ${timeoutMs} ms; its log:\n${log}`)
    await sleep(100)
  }
}
