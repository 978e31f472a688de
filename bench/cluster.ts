// Cluster benchmark (not a test): dyn against real peers on the same machine, in the same
// run, under the same load (DESIGN §10.5: results are ratios to real systems measured side
// by side, never numbers from elsewhere).
//
//   dyn    3 nodes from the built program, N=3 R=2 W=2, Q=64, sync always; client library
//   dyn-tls  the same with TLS on both ports and client certificates required (as `dyn
//          init --tls` sets it up; ECDSA P-256 keys from src/cluster/certificates.ts), measured
//          at concurrency 64 only and compared with dyn: what TLS costs
//   etcd   3 members (Debian's etcd-server), default durable settings; gRPC via `etcd3`
//   redis  1 node (Debian's redis-server), appendonly yes, appendfsync always; `redis` client
//
// Each gets closed-loop clients at concurrency 1, 16, 64 and 256 with 1 KiB values: puts of
// fresh keys and gets of preloaded keys. The systems take turns measurement by measurement
// (dyn put c=1, etcd put c=1, redis put c=1, dyn get c=1...), round after round, so that a
// slow spell of the shared machine lands on all of them rather than on one; each row is
// the median of its rounds.
//
//   npm run bench:cluster                          tables and ratios dyn/etcd, dyn/redis
//   npm run -s bench:cluster -- --json             {"results": [...]} alone on stdout (-s: no npm banner)
//   npm run bench:cluster -- --rounds 5 --seconds 2
//   npm run bench:cluster -- --systems dyn,redis --concurrency 1,16 --no-install
//
// A missing etcd or redis is installed from Debian when this runs as root; when it cannot
// be (no root, no network, --no-install, a failed install or start), that peer is skipped,
// said so on stderr, and its rows are left out. Progress goes to stderr, results to stdout.
// Every server listens on 127.0.0.1 only, keeps its data in one temporary directory, and is
// stopped and the directory removed at the end, on failure and on Ctrl-C.
import {rmSync} from 'node:fs'
import {mkdir, mkdtemp, readFile, rm} from 'node:fs/promises'
import {cpus, loadavg, tmpdir, totalmem} from 'node:os'
import {join} from 'node:path'
import {ensureCertificateAuthority, issueCertificate} from '../src/cluster/certificates.js'
import {parseArgs, UsageError, type BenchArgs} from './peers/args.js'
import {dynDurablePreset, dynPortsPerNode, startDyn, type DynClusterOptions} from './peers/dyn.js'
import {etcdMembers, etcdPeer, etcdPortsPerMember, etcdVersion, startEtcd} from './peers/etcd.js'
import {ensurePeer} from './peers/install.js'
import {benchValue, closedLoop, getPreloaded, preload, putFresh, type Target} from './peers/load.js'
import {freePorts, ProcessGroup} from './peers/processes.js'
import {redisPeer, redisPorts, redisVersion, startRedis} from './peers/redis.js'
import {ratioTables, resultsTable, tlsTable} from './peers/report.js'
import {jsonDocument, medianRows, opNames, summarize, type Measurement, type SystemName} from './peers/rows.js'

/** The concurrencies dyn-tls is measured at: one is enough to price TLS, and 64 is where a
 * loaded node spends the most per request on the wire. */
export const tlsConcurrencies: readonly number[] = [64]

/** How long closing one client may take at the end before the servers are stopped anyway. */
const clientCloseTimeoutMs = 5_000

/** Exit codes after a signal, as a shell reports them (128 + signal number). */
const signalExitCodes = {SIGINT: 130, SIGTERM: 143} as const

const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/** What must be undone at exit; filled as the run goes. */
const run = {
  dir: undefined as string | undefined,
  groups: [] as ProcessGroup[],
  targets: [] as Target[],
  cleaning: undefined as Promise<void> | undefined,
}

function cleanup(): Promise<void> {
  run.cleaning ??= (async () => {
    await Promise.all(run.targets.map((target) => withTimeout(target.close(), clientCloseTimeoutMs).catch(() => undefined)))
    await Promise.all(run.groups.map((group) => group.stopAll()))
    if (run.dir !== undefined) await rm(run.dir, {recursive: true, force: true})
  })()
  return run.cleaning
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the servers and removing ${run.dir ?? 'the temporary directory'}`)
    void cleanup().finally(() => process.exit(signalExitCodes[signal]))
  })
}
// The last resort when the process ends some other way (an uncaught error, process.exit):
// nothing asynchronous runs here, so kill outright and remove synchronously.
process.once('exit', () => {
  for (const group of run.groups) group.killAll()
  if (run.dir !== undefined) rmSync(run.dir, {recursive: true, force: true})
})

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function describeMachine(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU'
  const gib = (totalmem() / 2 ** 30).toFixed(1)
  const load = loadavg().map((value) => value.toFixed(2)).join(' ')
  return `machine: ${cpus().length} × ${model}, ${gib} GiB, Node ${process.version}, load average ${load}`
}

/** Starts one system in its own folder and process group. A peer that cannot be had or
 * started is skipped (undefined, with the reason logged); dyn failing to start is an error,
 * since without it there is nothing to compare. */
async function startSystem(system: SystemName, options: {args: BenchArgs; runDir: string; ports: readonly number[]}): Promise<Target | undefined> {
  const {args, ports} = options
  const dir = join(options.runDir, system)
  await mkdir(dir, {recursive: true})
  const processes = new ProcessGroup()
  run.groups.push(processes)
  if (system === 'dyn') {
    log(`dyn: starting ${dynDurablePreset.nodes} nodes (N=${dynDurablePreset.n} R=${dynDurablePreset.r} W=${dynDurablePreset.w}, Q=${dynDurablePreset.partitions}, sync ${dynDurablePreset.sync})`)
    return startDyn({dir, ports, processes, cluster: {...dynDurablePreset, nodeConfig: {...dynDurablePreset.nodeConfig, ...args.dynConfig}}})
  }
  if (system === 'dyn-tls') {
    log(`dyn-tls: starting ${dynDurablePreset.nodes} nodes as dyn, with TLS and client certificates required`)
    const preset = await tlsPreset(dir)
    return startDyn({dir, ports, processes, cluster: {...preset, nodeConfig: {...preset.nodeConfig, ...args.dynConfig}}})
  }
  const peer = system === 'etcd' ? etcdPeer : redisPeer
  const found = await ensurePeer(peer, {install: args.install, log})
  if (!found.ok) {
    log(`SKIPPED ${system}: ${found.reason}; its rows are left out`)
    return undefined
  }
  try {
    if (system === 'etcd') {
      log(`etcd: starting ${etcdMembers} members (${await etcdVersion(found.path)}, default settings)`)
      return await startEtcd({binary: found.path, dir, ports, processes})
    }
    log(`redis: starting redis-server ${await redisVersion(found.path)} (appendonly yes, appendfsync always)`)
    return await startRedis({binary: found.path, dir, ports, processes})
  } catch (error) {
    log(`SKIPPED ${system}: it did not start: ${error instanceof Error ? error.message : String(error)}`)
    await processes.stopAll()
    return undefined
  }
}

/** dynDurablePreset with TLS as `dyn init --tls` sets it up: a CA, the nodes' certificate
 * (each node serves with it and presents it to its peers; on loopback one certificate for
 * 127.0.0.1 fits all three, and the handshakes cost the same), the client's. */
async function tlsPreset(dir: string): Promise<DynClusterOptions> {
  const ca = await ensureCertificateAuthority(dir, dynDurablePreset.cluster)
  const issue = (name: string) => issueCertificate({ca, dir, file: name, name, hosts: ['127.0.0.1', 'localhost']})
  const node = await issue('node')
  const client = await issue('client')
  const caPem = await readFile(ca.certPath)
  return {
    ...dynDurablePreset,
    system: 'dyn-tls',
    nodeConfig: {...dynDurablePreset.nodeConfig, tls: {cert: node.certPath, key: node.keyPath, ca: ca.certPath, requireClientCert: true}},
    client: {tls: {ca: caPem, cert: await readFile(client.certPath), key: await readFile(client.keyPath)}},
    adminTls: {ca: caPem},
  }
}

const portsNeeded: Record<SystemName, number> = {
  dyn: dynDurablePreset.nodes * dynPortsPerNode,
  'dyn-tls': dynDurablePreset.nodes * dynPortsPerNode,
  etcd: etcdMembers * etcdPortsPerMember,
  redis: redisPorts,
}

/** Every measurement of a round, ordered so that the systems take turns at each step (dyn
 * put c=1, etcd put c=1, redis put c=1, dyn get c=1...): a slow spell of the shared machine
 * then falls on the systems being compared, not on one of them. */
async function measureAll(args: BenchArgs, targets: readonly Target[]): Promise<Measurement[]> {
  const value = benchValue()
  const measurements: Measurement[] = []
  for (let round = 1; round <= args.rounds; round++) {
    for (const concurrency of args.concurrencies) {
      for (const op of opNames) {
        for (const target of targets) {
          if (target.system === 'dyn-tls' && !tlsConcurrencies.includes(concurrency)) continue
          const call = op === 'put' ? putFresh(target, value, `bench-put-r${round}-c${concurrency}`) : getPreloaded(target)
          const loop = await closedLoop(concurrency, args.seconds, call)
          const summary = summarize(loop.latenciesMs, loop.elapsedMs)
          measurements.push({system: target.system, op, concurrency, round, errors: loop.errors, ...summary})
          const errors = loop.errors === 0 ? '' : `, ${loop.errors} errors`
          log(`round ${round}/${args.rounds} ${target.system} ${op} c=${concurrency}: ${summary.opsPerSec.toFixed(0)} ops/s, p99 ${summary.p99Ms.toFixed(2)} ms${errors}`)
        }
      }
    }
  }
  return measurements
}

async function main(args: BenchArgs): Promise<void> {
  log(describeMachine())
  const runDir = await mkdtemp(join(tmpdir(), 'dyn-bench-cluster-'))
  run.dir = runDir
  const ports = await freePorts(args.systems.reduce((sum, system) => sum + portsNeeded[system], 0))
  let next = 0
  const skipped: SystemName[] = []
  for (const system of args.systems) {
    const mine = ports.slice(next, next + portsNeeded[system])
    next += portsNeeded[system]
    const target = await startSystem(system, {args, runDir, ports: mine})
    if (target === undefined) skipped.push(system)
    else run.targets.push(target)
  }
  const value = benchValue()
  for (const target of run.targets) {
    log(`${target.system}: preloading keys`)
    await preload(target, value)
  }
  const estimateS = run.targets.length * args.concurrencies.length * 2 * args.rounds * args.seconds
  log(`measuring: ${args.rounds} rounds × ${run.targets.length} systems × ${args.concurrencies.length} concurrencies × put/get, ${args.seconds} s each (about ${Math.ceil(estimateS / 60)} min)`)
  const rows = medianRows(await measureAll(args, run.targets))
  if (args.json) {
    process.stdout.write(`${JSON.stringify(jsonDocument(rows))}\n`)
  } else {
    console.log(`\nMedians of ${args.rounds} rounds, ${args.seconds} s each; ${describeMachine()}\n`)
    console.log(resultsTable(rows))
    const tables = ratioTables(rows)
    if (tables.length === 0) console.log('\nno ratios: no peer was measured')
    for (const table of tables) console.log(`\n${table}`)
    const tls = tlsTable(rows)
    if (tls !== undefined) console.log(`\n${tls}`)
  }
  if (skipped.length > 0) log(`skipped (see above): ${skipped.join(', ')}`)
}

let args: BenchArgs
try {
  args = parseArgs(process.argv.slice(2))
} catch (error) {
  if (!(error instanceof UsageError)) throw error
  log(error.message)
  process.exit(error.exitCode)
}
try {
  await main(args)
} finally {
  await cleanup()
}
