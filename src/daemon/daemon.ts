// The node daemon: src/node's Node on real ports (DESIGN §1.2, §2). It wires the wire
// protocol server, the peer transport, the log store, the monotonic clock, the HTTP admin
// port and the log together, in a documented order:
//
//   start: 0. read the TLS files, if any (a bad one fails before anything is opened)
//          1. open (lock) the store and recover the partitions on disk
//          2. listen on the wire port (clients and peers)
//          3. listen on the HTTP port
//          4. log "serving"
//   close: 1. stop accepting; let requests in flight finish (graceful NetServer close)
//          2. wait for background work (stragglers, read repair: node.idle())
//          3. close the peer connections
//          4. close the store (finishes queued writes, syncs, releases the lock)
//          5. close the HTTP port
//
// Until step 5, /health answers 503 so that probes see the node going away.
import {Buffer} from 'node:buffer'
import {randomInt} from 'node:crypto'
import {statfsSync} from 'node:fs'
import {DynError, unreachable} from '../core/errors.js'
import {failure, messageTypes, parseRequest, type MessageType} from '../core/protocol.js'
import {SeededRandom} from '../core/random.js'
import {connectionsMax, NetServer, writerTotals, type Connection, type LogEntry, type TlsServerSettings} from '../net/index.js'
import {Node} from '../node/node.js'
import type {Clock} from '../node/ports.js'
import {formatSyncMode, type StoreEvent} from '../store/index.js'
import {Compactor} from './compactor.js'
import {configWarnings, readTlsFiles, type DaemonConfig} from './config.js'
import {AdminServer} from './http.js'
import {createLog, type DaemonLog, type LogFormat} from './log.js'
import {Metrics, type Gauge} from './metrics.js'
import {FileMetaStore} from './meta-store.js'
import {LogObjectStore, type StoreTotals} from './object-store.js'
import {NetTransport} from './transport.js'
import {FilterFaultControl} from './faults.js'

/** Version of the /status JSON shape (docs/node.md); bumped on incompatible changes. */
export const statusShapeVersion = 1

export interface DaemonOptions {
  /** Receives each log line (without newline); default: stdout. */
  logger?: (line: string) => void
  logFormat?: LogFormat
}

export interface DaemonAddresses {
  /** host:port of the wire-protocol listener. */
  readonly wire: string
  /** host:port of the HTTP admin listener. */
  readonly http: string
}

export interface Daemon {
  readonly name: string
  readonly addresses: DaemonAddresses
  /** Graceful stop (see the order above); resolves once everything is closed. Idempotent. */
  close(): Promise<void>
}

type State = 'serving' | 'stopping' | 'stopped'

const monotonicClock: Clock = {
  nowMs: () => performance.now(),
  // Only for times kept across restarts (src/node/tombstone-times.ts).
  wallMs: () => Date.now(),
  schedule: (delayMs, run) => {
    const timer = setTimeout(run, delayMs)
    timer.unref()
    return {cancel: () => clearTimeout(timer)}
  },
}

/** Starts a node; rejects with the named error of whichever step failed (StoreLockedError,
 * PortInUseError, ...) after undoing the steps before it. */
export async function startDaemon(config: DaemonConfig, options: DaemonOptions = {}): Promise<Daemon> {
  const log = createLog({name: config.name, ...(options.logFormat === undefined ? {} : {format: options.logFormat}), ...(options.logger === undefined ? {} : {write: options.logger})})
  for (const warning of configWarnings(config)) log.warn(warning)
  log.info('starting', {cluster: config.cluster, dataDir: config.dataDir, n: config.n, r: config.r, w: config.w, partitions: config.partitions, sync: formatSyncMode(config.syncMode)})
  const tls = config.tls === undefined ? undefined : await readTlsFiles(config.tls).catch((error: unknown) => {
    log.error(`start failed: ${messageOf(error)}`, {code: error instanceof DynError ? error.code : undefined})
    throw error
  })
  const store = await LogObjectStore.open({dataDir: config.dataDir, sync: config.syncMode, segmentBytesMax: config.segmentBytesMax, logger: (event) => logStoreEvent(log, event)})
  try {
    const recovered = await store.recoverAll()
    log.info('store open', {partitions: recovered, keys: store.totals().keys})
    const meta = await FileMetaStore.open(config.dataDir)
    return await RunningDaemon.start({config, log, store, meta, ...(tls === undefined ? {} : {tls})})
  } catch (error) {
    await store.close().catch((closeError: unknown) => log.error(`closing the store failed: ${messageOf(closeError)}`))
    log.error(`start failed: ${messageOf(error)}`, {code: error instanceof DynError ? error.code : undefined})
    throw error
  }
}

interface Parts {
  config: DaemonConfig
  log: DaemonLog
  store: LogObjectStore
  meta: FileMetaStore
  /** The TLS files' contents when config.tls is set. */
  tls?: TlsServerSettings
}

/** How often the node's periodic work is looked at (heartbeats, hint delivery...). Each part
 * decides itself whether it is due; this only bounds how late it can start. */
export const tickIntervalMs = 100

class RunningDaemon implements Daemon {
  private state: State = 'serving'
  private closing: Promise<void> | undefined = undefined
  private ticker: ReturnType<typeof setInterval> | undefined = undefined
  private readonly startedMs = performance.now()
  private readonly metrics = new Metrics()
  private readonly transport: NetTransport
  /** `dyn cluster partition`: the peers whose frames both the transport and the server drop. */
  private readonly faults: FilterFaultControl
  private readonly node: Node
  private readonly wire: NetServer
  private readonly admin: AdminServer
  private readonly compactor: Compactor
  private addressesBound: DaemonAddresses = {wire: '', http: ''}

  private constructor(private readonly parts: Parts) {
    const {config} = parts
    const secret = config.secret === undefined ? undefined : Buffer.from(config.secret, 'utf8')
    const netLogger = (entry: LogEntry): void => this.onNetEvent(entry)
    this.compactor = new Compactor({compactOne: () => parts.store.compactOne(), nowMs: () => performance.now(), warn: (message, fields) => parts.log.warn(message, fields)})
    this.faults = new FilterFaultControl((cut) => parts.log.warn(cut.length === 0 ? 'faults: every link healed' : `faults: links cut to ${cut.join(', ')}`))
    // Peers by name, and seeds by their address; gossip adds the members it learns of.
    const peerAddresses = new Map([...config.members.map((member) => [member.name, member.address] as const), ...(config.seeds ?? []).map((seed) => [seed, seed] as const)])
    this.transport = new NetTransport({
      cluster: config.cluster,
      name: config.name,
      addresses: peerAddresses,
      logger: netLogger,
      faults: this.faults.filter,
      ...(secret === undefined ? {} : {secret}),
      // A node calls its peers as a client of theirs: its own certificate, the same CA.
      ...(parts.tls === undefined ? {} : {tls: {cert: parts.tls.cert, key: parts.tls.key, ...(parts.tls.ca === undefined ? {} : {ca: parts.tls.ca})}}),
    })
    this.node = new Node({
      config: {
        name: config.name,
        cluster: config.cluster,
        n: config.n,
        r: config.r,
        w: config.w,
        requestTimeoutMs: config.requestTimeoutMs,
        durableWrites: config.syncMode.kind === 'always',
        readFanout: config.readFanout,
        valueBytesMax: config.valueBytesMax,
      },
      members: config.members,
      partitionCount: config.partitions,
      ports: {transport: this.transport, store: parts.store, meta: parts.meta, clock: monotonicClock, random: new SeededRandom(randomInt(2 ** 31)), faults: this.faults},
      onError: (error) => parts.log.error(`background work failed: ${messageOf(error)}`),
      onNotice: (notice) => (notice.level === 'warn' ? parts.log.warn(notice.message) : parts.log.info(notice.message)),
      seeds: config.seeds ?? [],
      self: {address: config.advertise ?? formatAddress(config.listen), weight: config.members.find((member) => member.name === config.name)?.weight ?? 1},
    })
    this.node.view.onChange((next, previous) => {
      for (const member of this.node.view.addresses()) peerAddresses.set(member.name, member.address)
      if (next.ring.version !== previous.ring.version || next.members !== previous.members) {
        parts.log.info('membership view changed', {ringVersion: next.ring.version, members: next.members.map((member) => `${member.name}:${member.status}`).join(',')})
      }
    })
    this.wire = new NetServer({
      identity: {cluster: config.cluster, role: 'node', name: config.name, ...(secret === undefined ? {} : {secret})},
      logger: netLogger,
      faults: this.faults.filter,
      onConnection: (connection) => this.onConnection(connection),
      ...(parts.tls === undefined ? {} : {tls: parts.tls}),
    })
    for (const type of messageTypes) this.wire.handle(type, (payload) => this.serve(type, payload))
    this.admin = new AdminServer({
      name: config.name,
      serving: () => this.state === 'serving',
      status: () => this.status(),
      metrics: () => this.metrics.render(this.gauges()),
      ...(parts.tls === undefined ? {} : {tls: parts.tls}),
    })
  }

  static async start(parts: Parts): Promise<RunningDaemon> {
    const daemon = new RunningDaemon(parts)
    const {config, log} = parts
    await daemon.node.start()
    const wire = await daemon.wire.listen(config.listen)
    try {
      const http = await daemon.admin.listen(config.http.host, config.http.port)
      daemon.addressesBound = {wire: formatAddress(wire), http: formatAddress(http)}
    } catch (error) {
      await daemon.wire.destroy()
      throw error
    }
    daemon.ticker = setInterval(() => {
      daemon.node.tick()
      daemon.compactor.tick()
    }, tickIntervalMs)
    daemon.ticker.unref()
    const tls = parts.tls === undefined ? 'off' : parts.tls.requireClientCert ? 'on, client certificates required' : 'on'
    log.info(`serving wire=${daemon.addressesBound.wire} http=${daemon.addressesBound.http}`, {pid: process.pid, tls})
    return daemon
  }

  get name(): string {
    return this.parts.config.name
  }

  get addresses(): DaemonAddresses {
    return this.addressesBound
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    const {log, store} = this.parts
    this.state = 'stopping'
    log.info('stopping: no new connections; finishing requests in flight')
    const problems: unknown[] = []
    const step = async (what: string, work: () => Promise<unknown>): Promise<void> => {
      try {
        await work()
      } catch (error) {
        problems.push(error)
        log.error(`${what} failed: ${messageOf(error)}`)
      }
    }
    if (this.ticker !== undefined) clearInterval(this.ticker)
    await step('closing the wire port', () => this.wire.close())
    await step('finishing background work', () => this.node.idle())
    await this.compactor.idle()
    // Tombstones seen since the last periodic save keep their first-seen times
    // (docs/anti-entropy.md). Not a failure of the stop when it cannot be done (a full
    // disk): those tombstones then count as first seen at the next start.
    await this.node.objects.persistTombstoneTimes().catch((error: unknown) => log.warn(`saving tombstone first-seen times failed: ${messageOf(error)}; they count from the next start`))
    await step('closing peer connections', () => this.transport.close())
    await step('closing the store', () => store.close())
    await step('closing the HTTP port', () => this.admin.close())
    this.state = 'stopped'
    log.info('stopped')
    if (problems.length > 0) throw problems[0]
  }

  /** One request from a client or peer: validate, hand to the node, count. */
  private async serve(type: MessageType, payload: unknown): Promise<unknown> {
    const startedMs = performance.now()
    let outcome = 'INTERNAL'
    try {
      const response = await this.respond(type, payload)
      outcome = response.ok ? 'ok' : response.error.code
      return response
    } finally {
      this.metrics.record(type, outcome, (performance.now() - startedMs) / 1000)
    }
  }

  private async respond(type: MessageType, payload: unknown): Promise<{ok: true} | {ok: false; error: {code: string}}> {
    let request
    try {
      request = parseRequest(type, payload)
    } catch (error) {
      if (error instanceof DynError) return failure(error)
      throw error
    }
    try {
      return await this.node.handle(type, request)
    } catch (error) {
      // Node.handle turns expected errors into failures; anything thrown is a bug. The
      // wire library answers it with HANDLER_FAILED; the log keeps the stack.
      this.parts.log.error(`handling ${type} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
      throw error
    }
  }

  private onConnection(connection: Connection): void {
    const peer = connection.peer
    if (peer === undefined) return
    this.parts.log.info(`connection from ${peer.role} ${peer.name}`, {address: peer.address})
  }

  private onNetEvent(entry: LogEntry): void {
    if (entry.level === 'warn') this.metrics.recordConnectionProblem()
    const fields = {address: entry.address, peer: entry.peer, code: entry.code}
    if (entry.level === 'warn') this.parts.log.warn(entry.message, fields)
    else this.parts.log.info(entry.message, fields)
  }

  private status(): unknown {
    const {config, store} = this.parts
    return {
      version: statusShapeVersion,
      name: config.name,
      cluster: config.cluster,
      state: this.state,
      pid: process.pid,
      uptimeMs: Math.round(performance.now() - this.startedMs),
      addresses: this.addressesBound,
      // The current view, not the configuration file: joins and leaves change it.
      members: this.node.view.view.members.map(({name, address, weight, status}) => ({name, address, weight, status})),
      ringVersion: this.node.view.ring.version,
      n: config.n,
      r: config.r,
      w: config.w,
      partitions: config.partitions,
      sync: formatSyncMode(config.syncMode),
      dataDir: config.dataDir,
      store: store.totals(),
      connections: {incoming: this.wire.connections.size, peers: this.transport.openConnections},
      // The background work `dyn top` and operators watch: who is suspected or cut off, the
      // hints held for others and how many were delivered, anti-entropy's progress, handoffs.
      health: {suspects: this.node.health.suspects()},
      faults: {cut: [...this.node.faults.cut]},
      hints: {pending: this.node.hints.pending, delivered: this.node.hints.delivered},
      antiEntropy: antiEntropyJson(this.node.antiEntropy),
      handoffs: this.node.handoff.status(),
      process: processJson(config.dataDir),
    }
  }

  private gauges(): Gauge[] {
    const totals: StoreTotals = this.parts.store.totals()
    const combined = this.node.objects.combinedWrites()
    return [
      {name: 'dyn_up', help: '1 while the node serves, 0 while it is stopping.', value: this.state === 'serving' ? 1 : 0},
      {name: 'dyn_uptime_seconds', help: 'Seconds since the node started.', value: (performance.now() - this.startedMs) / 1000},
      {name: 'dyn_connections_open', help: 'Wire connections accepted and not yet closed (clients and peers).', value: this.wire.connections.size},
      {name: 'dyn_connections_turned_away_total', help: `Wire connections refused with TOO_MANY_CONNECTIONS because ${connectionsMax} were open.`, value: this.wire.turnedAway, counter: true},
      {name: 'dyn_tls_handshakes_failed_total', help: 'TLS handshakes on the wire port that failed: plaintext clients, refused or missing client certificates.', value: this.wire.handshakesFailed, counter: true},
      {name: 'dyn_peer_connections_open', help: 'Connections this node opened to its peers.', value: this.transport.openConnections},
      {name: 'dyn_store_partitions_open', help: 'Partitions of the store open on this node.', value: totals.partitionsOpen},
      {name: 'dyn_store_keys', help: 'Keys with a stored object, summed over open partitions.', value: totals.keys},
      {name: 'dyn_store_tombstones', help: 'Delete records still remembered by the store.', value: totals.tombstones},
      {name: 'dyn_store_live_bytes', help: 'Bytes of records holding current values.', value: totals.liveBytes},
      {name: 'dyn_store_dead_bytes', help: 'Bytes compaction can reclaim.', value: totals.deadBytes},
      {name: 'dyn_store_segments', help: 'Segment files, active ones included.', value: totals.segments},
      {name: 'dyn_store_compactions_total', help: 'Compactions that merged segments of a partition.', value: this.compactor.compactions, counter: true},
      {name: 'dyn_store_compaction_failures_total', help: 'Compactions that failed (a full disk...); the next check tries again.', value: this.compactor.failures, counter: true},
      {name: 'dyn_store_compaction_reclaimed_bytes_total', help: 'Bytes compactions removed from the disk.', value: this.compactor.bytesReclaimed, counter: true},
      {name: 'dyn_store_corrupt_records', help: 'Records that failed their checksum (skipped at open or on read); never served.', value: totals.corruptRecords},
      {name: 'dyn_store_batches_written', help: 'Group commits written to partition segments.', value: totals.batchesWritten},
      {name: 'dyn_store_syncs_total', help: 'Data syncs that made writes durable (with sync always: journal syncs).', value: totals.syncs, counter: true},
      {name: 'dyn_store_synced_records_total', help: 'Writes (records) those syncs made durable: divided by syncs, the batching.', value: totals.syncedRecords, counter: true},
      {name: 'dyn_object_writes_total', help: 'Persists of local copies (coordinator writes, replica merges, repairs).', value: combined.persists, counter: true},
      {name: 'dyn_object_changes_total', help: 'Changes those persists carried: above writes when queued writes of one key were combined.', value: combined.changes, counter: true},
      {name: 'dyn_net_frames_written_total', help: 'Wire frames this node wrote to clients and peers.', value: writerTotals.framesWritten, counter: true},
      {name: 'dyn_net_socket_writes_total', help: 'Socket writes that carried those frames: frames divided by writes, the batching.', value: writerTotals.flushes, counter: true},
      ...this.backgroundGauges(),
      ...processGauges(process.memoryUsage(), diskFreeBytes(this.parts.config.dataDir)),
    ]
  }

  /** Failure detection, faults, hints, anti-entropy and handoffs. */
  private backgroundGauges(): Gauge[] {
    const {health, faults, hints, antiEntropy, handoff} = this.node
    const handoffs = handoff.status()
    return [
      {name: 'dyn_suspects', help: 'Peers this node currently suspects (missed heartbeats or timed-out requests).', value: health.suspects().length},
      {name: 'dyn_fault_cut_peers', help: 'Peers a fault injection (dyn cluster partition) cut this node off from.', value: faults.cut.length},
      {name: 'dyn_hints_pending', help: 'Hints this node holds for other primaries, not yet delivered.', value: hints.pending},
      {name: 'dyn_hints_delivered_total', help: 'Hints delivered to and acknowledged by their recipients.', value: hints.delivered, counter: true},
      {name: 'dyn_anti_entropy_exchanges_total', help: 'Anti-entropy exchanges finished: one partition compared with one peer.', value: antiEntropy.stats.exchanges, counter: true},
      {name: 'dyn_anti_entropy_keys_repaired_total', help: 'Keys anti-entropy synced (fetched, merged or pushed).', value: antiEntropy.stats.keysRepaired, counter: true},
      {name: 'dyn_anti_entropy_failures_total', help: 'Anti-entropy exchanges that failed (a peer timed out or refused).', value: antiEntropy.stats.failures, counter: true},
      {name: 'dyn_anti_entropy_queued', help: 'Exchanges waiting in the priority queue (a returned peer, a finished handoff).', value: antiEntropy.queued},
      {name: 'dyn_handoffs_active', help: 'Partitions this node is handing off to their new owners.', value: handoffs.length},
      {name: 'dyn_handoff_keys_sent', help: 'Keys sent so far by the handoffs in progress.', value: handoffs.reduce((sum, task) => sum + task.keysSent, 0)},
    ]
  }
}

function antiEntropyJson(antiEntropy: Node['antiEntropy']): unknown {
  const {exchanges, keysRepaired, failures} = antiEntropy.stats
  return {exchanges, keysRepaired, failures, queued: antiEntropy.queued}
}

function processJson(dataDir: string): unknown {
  const memory = process.memoryUsage()
  return {rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, diskFreeBytes: diskFreeBytes(dataDir) ?? null}
}

function processGauges(memory: NodeJS.MemoryUsage, diskFree: number | undefined): Gauge[] {
  return [
    {name: 'dyn_process_resident_memory_bytes', help: 'Resident memory of the node process.', value: memory.rss},
    {name: 'dyn_process_heap_used_bytes', help: 'JavaScript heap in use.', value: memory.heapUsed},
    ...(diskFree === undefined ? [] : [{name: 'dyn_disk_free_bytes', help: 'Bytes free to this process on the file system of the data directory.', value: diskFree}]),
  ]
}

/** Bytes an unprivileged writer may still use on the file system holding `path`; undefined
 * when the file system cannot be asked. One statfs call: microseconds, fine at scrape time. */
function diskFreeBytes(path: string): number | undefined {
  try {
    const stats = statfsSync(path)
    return stats.bavail * stats.bsize
  } catch {
    return undefined
  }
}

function formatAddress(address: {host: string; port: number}): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function logStoreEvent(log: DaemonLog, event: StoreEvent): void {
  switch (event.kind) {
    case 'corruptRecord':
      return log.warn('store: corrupt record skipped (not served)', {path: event.path, offset: event.offset, bytes: event.bytesSkipped})
    case 'tornTail':
      return log.warn('store: torn tail truncated', {path: event.path, offset: event.offset, bytes: event.bytesTruncated})
    case 'hintInvalid':
      return log.warn('store: hint file rejected; segment scanned instead', {path: event.path, reason: event.reason})
    case 'staleLockTaken':
      return log.warn('store: took over the lock of a process that is gone', {path: event.path, pid: event.pid})
    case 'syncFailed':
      return log.error('store: sync failed', {path: event.path, code: event.code})
    case 'compactionCompleted':
      return log.info('store: compaction completed', {path: event.path, segmentsIn: event.segmentsIn, segmentsOut: event.segmentsOut})
    default:
      return unreachable(event)
  }
}
