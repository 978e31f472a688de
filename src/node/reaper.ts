// Tombstone reaping (DESIGN §5; the idea of Cassandra's gc_grace_seconds and of Riak KV's
// delete_mode with a delay, made stricter). A delete writes a tombstone that keeps the
// deleted key's causal history; deleting the tombstone itself is safe only when no copy of
// a value it covers is left anywhere, or it would come back through read repair, hint
// delivery or anti-entropy (docs/anti-entropy.md, "Reaping tombstones").
//
// Every node remembers its tombstone-only keys and since when it holds each exact version
// (objects.ts; kept across restarts, tombstone-times.ts). The partition's first primary
// (current ring) reaps, on ticks, at most keysPerRoundMax keys of one partition per round:
//
//   reaper (first primary)               every other member         every primary
//   candidates held >= graceMs
//   ── replica.reap check ──────────────▶ agree per key iff:
//                                          same primaries for the partition in its view,
//                                          no handoff of the partition in progress,
//                                          no hint for the key,
//                                          primary: holds exactly that digest, >= graceMs
//                                          other:   holds no copy of the key
//   all agree (itself too) on a key, else "not now" (retried after retryMs)
//   ── replica.reap delete ───────────────────────────────────────▶ under the key's lock:
//                                                                   delete iff digest same
//
// Any node unreachable or failing refuses the whole round. A write arriving between the
// phases changes the digest on the primaries it reaches, which then keep their copy: it
// holds the tombstone's history (the put and sync rules carry the version vector along),
// and anti-entropy spreads it to the primaries that deleted theirs. Deletion goes through
// LocalObjects.exclusive, so the Merkle tree is updated and the writer identity moves on
// first (actors.ts). The grace period covers what no request can see: messages still in
// flight and copies restored from before the delete.
import {Buffer} from 'node:buffer'
import {DynError, unreachable} from '../core/errors.js'
import {partitionOfKey} from '../core/hash.js'
import {checkKey} from '../core/limits.js'
import {BadRequestError, type ReplicaReapRequest, type ReplicaReapResponse} from '../core/protocol.js'
import type {Background} from './background.js'
import type {Health} from './health.js'
import {encodeHintKey, hintsPartition} from './hints.js'
import {digestOf, keyName, type LocalObjects, type TombstoneEntry} from './objects.js'
import type {Clock, ObjectStore, Transport} from './ports.js'
import type {ClusterView} from './view.js'

export interface ReaperSettings {
  /** How long every primary must have held the identical tombstone before it is reaped:
   * longer than any message may stay in flight and than a node may come back with data
   * from before the delete (a restore, a crash losing unsynced writes). Down nodes are
   * caught by the check itself (they cannot agree). Shorter frees space sooner. */
  readonly graceMs: number
  /** Between rounds. One round checks one partition's due keys with every member. */
  readonly intervalMs: number
  /** Keys one round checks and deletes at most: with intervalMs, caps reaping at 256 keys/s
   * per node and a check request at about 260 KB (1 KiB keys), a background burst. */
  readonly keysPerRoundMax: number
  /** A key refused (a replica disagreed or could not be asked) is not checked again for this
   * long, so stuck keys do not crowd out others and a down node costs one try per key per
   * retryMs; short next to graceMs. */
  readonly retryMs: number
  /** How long one request of a round may take. */
  readonly requestTimeoutMs: number
  /** How often the first-seen times of changed partitions' tombstones are saved
   * (objects.ts persistTombstoneTimes, tombstone-times.ts): each save rewrites one small
   * document per changed partition. Tombstones first seen within this long before a crash
   * count from the next start instead; short next to graceMs, long next to a document
   * write. */
  readonly persistIntervalMs: number
}

export const reaperDefaults: ReaperSettings = {
  graceMs: 24 * 60 * 60 * 1000,
  intervalMs: 1_000,
  keysPerRoundMax: 256,
  retryMs: 5 * 60 * 1000,
  requestTimeoutMs: 5_000,
  persistIntervalMs: 60_000,
}

export interface ReaperStats {
  rounds: number
  keysReaped: number
  /** Keys some node did not agree to reap (or could not be asked about). */
  keysRefused: number
  /** Rounds cut short because a node could not be asked. */
  failures: number
  lastProblem: string | undefined
  /** Saves of tombstone times that failed (a full disk): retried at the next interval. */
  persistFailures: number
}

export interface ReaperOptions {
  readonly self: string
  /** N: the primaries of each partition. */
  readonly n: number
  readonly view: ClusterView
  readonly objects: LocalObjects
  /** The node's store, for its hint records (hints.ts). */
  readonly store: ObjectStore
  /** Whether an ownership handoff of the partition is in progress on this node. */
  readonly handingOff: (partition: number) => boolean
  readonly health: Health
  readonly background: Background
  readonly transport: Transport
  readonly clock: Clock
  readonly settings?: Partial<ReaperSettings>
}

interface Round {
  readonly partition: number
  readonly primaries: readonly string[]
  readonly entries: readonly TombstoneEntry[]
}

export class Reaper {
  readonly settings: ReaperSettings
  readonly stats: ReaperStats = {rounds: 0, keysReaped: 0, keysRefused: 0, failures: 0, lastProblem: undefined, persistFailures: 0}
  private running = false
  private nextDueMs = Number.NEGATIVE_INFINITY
  private persisting = false
  /** The first save waits one interval: a start has nothing new to save. */
  private nextPersistMs: number | undefined = undefined
  /** The round robin's position over partitions. */
  private cursor = 0
  /** Refused keys ("partition:key name") -> when they may be checked again. */
  private readonly deferred = new Map<string, number>()

  constructor(private readonly options: ReaperOptions) {
    this.settings = {...reaperDefaults, ...options.settings}
  }

  readonly handlers = {
    'replica.reap': async (request: ReplicaReapRequest): Promise<ReplicaReapResponse> => {
      this.checkRequest(request)
      switch (request.phase) {
        case 'check':
          return {ok: true, done: await this.agree(request)}
        case 'delete':
          return {ok: true, done: await this.remove(request)}
        default:
          return unreachable(request.phase)
      }
    },
  }

  /** Starts a round when one is due and some tombstone is, and a save of the tombstone
   * times when one is due; returns at once. */
  tick(): void {
    const nowMs = this.options.clock.nowMs()
    this.persistWhenDue(nowMs)
    if (this.running) return
    if (nowMs < this.nextDueMs) return
    this.nextDueMs = nowMs + this.settings.intervalMs
    const round = this.choose(nowMs)
    if (round === undefined) return
    this.running = true
    this.options.background.track(this.run(round).finally(() => (this.running = false)))
  }

  /** Whether a round is under way. */
  get busy(): boolean {
    return this.running
  }

  private persistWhenDue(nowMs: number): void {
    this.nextPersistMs ??= nowMs + this.settings.persistIntervalMs
    if (this.persisting || nowMs < this.nextPersistMs) return
    this.nextPersistMs = nowMs + this.settings.persistIntervalMs
    this.persisting = true
    this.options.background.track(this.persist().finally(() => (this.persisting = false)))
  }

  /** A failed save (an expected store error such as a full disk) is counted and retried at
   * the next interval; the times stay in memory meanwhile. */
  private async persist(): Promise<void> {
    try {
      await this.options.objects.persistTombstoneTimes()
    } catch (error) {
      if (!(error instanceof DynError)) throw error
      this.stats.persistFailures++
      this.stats.lastProblem = error.message
    }
  }

  private async run(round: Round): Promise<void> {
    this.stats.rounds++
    const agreed = await this.check(round)
    const refused = round.entries.filter((entry) => !agreed.includes(entry))
    this.stats.keysRefused += refused.length
    this.defer(round.partition, refused)
    if (agreed.length === 0) return
    this.stats.keysReaped += await this.deleteEverywhere(round, agreed)
  }

  /** The entries every member (this node included) agrees to reap. */
  private async check(round: Round): Promise<TombstoneEntry[]> {
    const request = this.requestOf(round, 'check', round.entries)
    try {
      const verdicts = await Promise.all([this.agree(request), ...this.options.view.peers().map((peer) => this.ask(peer, request))])
      return round.entries.filter((_, i) => verdicts.every((verdict) => verdict[i] === true))
    } catch (error) {
      if (!(error instanceof DynError)) throw error
      this.stats.failures++
      this.stats.lastProblem = error.message
      return []
    }
  }

  /** Asks every primary to delete the agreed keys; returns how many this node deleted (the
   * others' outcomes only matter to them: a primary that missed the delete keeps the
   * tombstone, which anti-entropy may bring back here, to be reaped again later). */
  private async deleteEverywhere(round: Round, agreed: readonly TombstoneEntry[]): Promise<number> {
    const request = this.requestOf(round, 'delete', agreed)
    const outcomes = await Promise.allSettled(
      round.primaries.filter((node) => node !== this.options.self).map((node) => this.ask(node, request)),
    )
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') continue
      if (!(outcome.reason instanceof DynError)) throw outcome.reason
      this.stats.lastProblem = outcome.reason.message
    }
    const done = await this.remove(request)
    return done.filter(Boolean).length
  }

  /** This node's verdict on each key of a check request. */
  private async agree(request: ReplicaReapRequest): Promise<boolean[]> {
    const {partition, keys, digests} = request
    const primaries = this.primariesOf(partition)
    if (!sameNames(primaries, request.primaries) || this.options.handingOff(partition)) return keys.map(() => false)
    const primary = primaries.includes(this.options.self)
    const heldSinceMs = this.options.clock.nowMs() - this.settings.graceMs
    const verdicts: boolean[] = []
    for (const [i, key] of keys.entries()) {
      if (await this.hintHeld(partition, key)) {
        verdicts.push(false)
        continue
      }
      const tombstone = this.options.objects.tombstone(partition, key)
      verdicts.push(
        primary
          ? tombstone !== undefined && equalBytes(tombstone.digest, digests[i]!) && tombstone.sinceMs <= heldSinceMs
          : this.options.objects.digest(partition, key) === undefined,
      )
    }
    return verdicts
  }

  /** Deletes each key whose stored copy still has the given digest; only on a primary. */
  private async remove(request: ReplicaReapRequest): Promise<boolean[]> {
    const {partition, keys, digests} = request
    const primaries = this.primariesOf(partition)
    if (!sameNames(primaries, request.primaries) || !primaries.includes(this.options.self)) return keys.map(() => false)
    const done: boolean[] = []
    for (const [i, key] of keys.entries()) {
      done.push(
        await this.options.objects.exclusive(partition, key, async (current, removeCopy) => {
          if (current === undefined || !equalBytes(digestOf(current), digests[i]!)) return false
          await removeCopy()
          return true
        }),
      )
    }
    return done
  }

  /** Whether this node holds a hint for the key, whatever its target (looked up in the
   * store rather than trusting a count: a missed hint would resurrect data). */
  private async hintHeld(partition: number, key: Uint8Array): Promise<boolean> {
    for (const member of this.options.view.view.members) {
      const hintKey = encodeHintKey({target: member.name, partition, key})
      if ((await this.options.store.get(hintsPartition, hintKey)) !== undefined) return true
    }
    return false
  }

  /** The next partition (round robin) this node is the first primary of with due keys. */
  private choose(nowMs: number): Round | undefined {
    this.forgetExpired(nowMs)
    const partitions = this.options.objects.tombstonePartitions()
    const start = Math.max(0, partitions.findIndex((partition) => partition >= this.cursor))
    for (let i = 0; i < partitions.length; i++) {
      const partition = partitions[(start + i) % partitions.length]!
      const round = this.roundOf(partition, nowMs)
      if (round === undefined) continue
      this.cursor = partition + 1
      return round
    }
    return undefined
  }

  private roundOf(partition: number, nowMs: number): Round | undefined {
    const primaries = this.primariesOf(partition)
    if (primaries[0] !== this.options.self) return undefined
    const entries = this.options.objects
      .tombstonesHeldSince(partition, nowMs - this.settings.graceMs)
      .filter((entry) => !this.deferred.has(deferredName(partition, entry.key)))
      .slice(0, this.settings.keysPerRoundMax)
    return entries.length === 0 ? undefined : {partition, primaries, entries}
  }

  private defer(partition: number, entries: readonly TombstoneEntry[]): void {
    const untilMs = this.options.clock.nowMs() + this.settings.retryMs
    for (const entry of entries) this.deferred.set(deferredName(partition, entry.key), untilMs)
  }

  private forgetExpired(nowMs: number): void {
    for (const [name, untilMs] of this.deferred) if (untilMs <= nowMs) this.deferred.delete(name)
  }

  private requestOf(round: Round, phase: ReplicaReapRequest['phase'], entries: readonly TombstoneEntry[]): ReplicaReapRequest {
    return {
      partition: round.partition,
      phase,
      keys: entries.map((entry) => entry.key),
      digests: entries.map((entry) => entry.digest),
      primaries: round.primaries,
    }
  }

  /** One request of a round: a failure response, a lost request or a malformed answer
   * throws a DynError. */
  private async ask(peer: string, request: ReplicaReapRequest): Promise<readonly boolean[]> {
    let response: ReplicaReapResponse
    try {
      response = await this.options.transport.request(peer, 'replica.reap', request, {timeoutMs: this.settings.requestTimeoutMs})
      this.options.health.heard(peer)
    } catch (error) {
      this.options.health.failed(peer, error)
      throw error
    }
    if (!response.ok) throw new DynError(`${peer}: ${response.error.message}`, {code: response.error.code, exitCode: response.error.exitCode})
    if (response.done.length !== request.keys.length) {
      throw new DynError(`${peer} answered ${response.done.length} verdicts for ${request.keys.length} keys`, {code: 'BAD_RESPONSE'})
    }
    return response.done
  }

  private checkRequest(request: ReplicaReapRequest): void {
    const count = this.options.view.ring.partitionCount
    if (request.partition >= count) throw new BadRequestError('replica.reap', `partition must be below ${count}`)
    for (const key of request.keys) {
      checkKey(key)
      if (partitionOfKey(key, count) !== request.partition) throw new BadRequestError('replica.reap', `a key hashes to partition ${partitionOfKey(key, count)}, not ${request.partition}`)
    }
  }

  private primariesOf(partition: number): readonly string[] {
    return this.options.view.primaries(partition)
  }
}

function deferredName(partition: number, key: Uint8Array): string {
  return `${partition}:${keyName(key)}`
}

/** Same names in the same order: both nodes computed the same preference list. */
function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i])
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0
}
