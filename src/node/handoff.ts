// Ownership handoff (Dynamo §4.9 "Adding/Removing Storage Nodes": the nodes that no longer
// own a key range transfer it to the new owner, which confirms; DESIGN §5: the old owner
// drops its copy only after the new owner has it; Riak's handoff is the same idea).
//
// When the ring changes (and at start, from the persisted view), every partition this node
// holds keys of but is not a primary of gets a task: stream its objects, in batches of
// replica.putMany, to its targets; once every batch is acknowledged by every target, remove
// each key whose copy did not change since it was sent (under the key's lock), and drop the
// partition once it is empty. A key written meanwhile stays and the task makes another
// pass. Targets merge by the sync rule, so a batch sent twice (a retry, a restart
// mid-handoff) changes nothing: restarting simply sends again.
//
// The targets are the current primaries that did not already hold the partition: when this
// node was a primary of it in the ring before the change, the other primaries of that ring
// were replicas too and still hold it (what they missed, anti-entropy brings them from the
// new owners, as between any replicas). Only when no new owner is left (the ring shrank
// below N nodes) is it sent to every primary, so that no key this node alone holds is
// dropped unsent. A copy held for another reason (a fallback's hinted copy) or a task
// planned at start (the previous ring is not known) goes to every primary.
//
//   ring change ──> plan(): task per held, unowned partition
//   tick ──> step(task): list keys ─> send batch ... send batch ─> verify + remove ─> drop
//                         (a failed batch waits handoffRetryMs, then is sent again)
//
// A leaving member that holds nothing any more is marked 'left' (core/membership.ts).
import {DynError} from '../core/errors.js'
import {preferenceList, type Ring} from '../core/ring.js'
import type {Background} from './background.js'
import type {Health} from './health.js'
import {digestOf, keyName, type LocalObjects} from './objects.js'
import type {Clock, Transport} from './ports.js'
import type {ClusterView} from './view.js'

/** Keys per replica.putMany: big enough to amortise a round trip, small enough that a
 * batch is a short burst for a primary that is also serving clients. */
export const handoffBatchKeysMax = 128

/** Bytes of objects per batch (at least one object is always sent): a quarter of a wire
 * frame (core/limits.ts frameBytesMax), so a batch always fits with room to spare. */
export const handoffBatchBytesMax = 4 * 1024 * 1024

/** Partitions streamed at once; with one batch per partition per tick (100 ms in the
 * daemon) this caps handoff at about 2 × 128 keys per tick, a background rate. */
export const handoffPartitionsConcurrentMax = 2

/** A batch waits this long for every primary's acknowledgement. */
export const handoffTimeoutMs = 5_000

/** After a failed batch (a primary down or slow) the task waits this long before resending. */
export const handoffRetryMs = 2_000

export type HandoffState = 'pending' | 'sending' | 'removing' | 'retrying'

export interface HandoffStatus {
  readonly partition: number
  /** The primaries the partition is streamed to (those that did not hold it already). */
  readonly to: readonly string[]
  readonly keysSent: number
  readonly state: HandoffState
  /** Why the last batch failed, while retrying. */
  readonly problem?: string
}

interface Task {
  readonly partition: number
  /** The primaries the partition is sent to: handoffTargets(primaries, holders). */
  readonly targets: readonly string[]
  /** Nodes known to hold the partition already (the other primaries before the change). */
  readonly holders: readonly string[]
  /** Keys of the current pass, listed when the pass starts. */
  keys: Uint8Array[] | undefined
  next: number
  /** Digest of the copy each key had when it was sent, by key name. */
  readonly sent: Map<string, Uint8Array>
  keysSent: number
  state: HandoffState
  retryAtMs: number
  busy: boolean
  problem: string | undefined
}

export interface HandoffOptions {
  readonly self: string
  readonly n: number
  readonly view: ClusterView
  readonly objects: LocalObjects
  readonly transport: Transport
  readonly clock: Clock
  readonly health: Health
  readonly background: Background
  /** Called once a leaving node holds nothing: marks it left and spreads that. */
  readonly onHandedOff: () => Promise<void>
  /** Called when a partition's handoff finished and the partition was dropped here, with
   * the primaries that took it: they just changed what they hold. */
  readonly onFinished?: (partition: number, targets: readonly string[]) => void
}

export class Handoff {
  private readonly tasks = new Map<number, Task>()
  private finishing = false

  constructor(private readonly options: HandoffOptions) {
    options.view.onChange((next, previous) => {
      if (next.ring !== previous.ring) this.plan(previous.ring)
    })
  }

  /** Recomputes the tasks from the current ring and what the node holds. A task whose
   * partition the node replicates again is dropped; one whose targets changed restarts.
   * `previous`: the ring before the change that caused this planning, when there was one. */
  plan(previous?: Ring): void {
    const ring = this.options.view.ring
    // Version 0: a joining node that has not heard of the cluster's ring yet.
    if (ring.version === 0) return
    const held = new Set(this.options.objects.partitions())
    for (const partition of [...this.tasks.keys()]) if (!held.has(partition)) this.tasks.delete(partition)
    for (const partition of held) {
      const primaries = this.primaries(ring, partition)
      if (primaries.includes(this.options.self)) {
        this.tasks.delete(partition)
        continue
      }
      const current = this.tasks.get(partition)
      // A ring that changes again mid-handoff keeps the holders of the first change: a
      // primary added by the intermediate ring may not have received everything yet.
      const holders = current?.holders ?? this.holders(previous, partition)
      const targets = handoffTargets(primaries, holders)
      if (current !== undefined && sameNames(current.targets, targets)) continue
      this.tasks.set(partition, newTask({partition, targets, holders}))
    }
  }

  /** The other primaries of `partition` in `previous` when this node was one of them: they
   * hold the partition already. Empty when there is no previous ring or this node was not a
   * primary in it (its copy may be a fallback's, which no primary may have). */
  private holders(previous: Ring | undefined, partition: number): readonly string[] {
    if (previous === undefined || previous.version === 0 || previous.partitionCount !== this.options.view.ring.partitionCount) return []
    const before = this.primaries(previous, partition)
    return before.includes(this.options.self) ? before.filter((name) => name !== this.options.self) : []
  }

  status(): HandoffStatus[] {
    return [...this.tasks.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((task) => ({
        partition: task.partition,
        to: task.targets,
        keysSent: task.keysSent,
        state: task.state,
        ...(task.problem === undefined ? {} : {problem: task.problem}),
      }))
  }

  get pending(): number {
    return this.tasks.size
  }

  /** Starts the steps that are due, at most handoffPartitionsConcurrentMax at once. */
  tick(): void {
    const nowMs = this.options.clock.nowMs()
    let running = [...this.tasks.values()].filter((task) => task.busy).length
    for (const task of this.tasks.values()) {
      if (running >= handoffPartitionsConcurrentMax) break
      if (task.busy || (task.state === 'retrying' && nowMs < task.retryAtMs)) continue
      task.busy = true
      running++
      this.options.background.track(this.step(task).finally(() => (task.busy = false)))
    }
    if (this.tasks.size === 0) this.finishLeave()
  }

  /** One step of a task: list the keys, send one batch, or remove what was sent. */
  async step(task: Task): Promise<void> {
    const {objects} = this.options
    if (task.keys === undefined) {
      const keys: Uint8Array[] = []
      for await (const key of objects.keys(task.partition)) keys.push(key)
      task.keys = keys
      task.next = 0
      task.state = 'sending'
      return
    }
    if (task.next < task.keys.length) return this.sendBatch(task, task.keys)
    await this.remove(task)
  }

  private async sendBatch(task: Task, keys: readonly Uint8Array[]): Promise<void> {
    const batch: {key: Uint8Array; object: Uint8Array}[] = []
    let bytes = 0
    let index = task.next
    for (; index < keys.length && batch.length < handoffBatchKeysMax; index++) {
      const key = keys[index]!
      const object = await this.options.objects.readBytes(task.partition, key)
      if (object === undefined) continue
      if (batch.length > 0 && bytes + object.length > handoffBatchBytesMax) break
      batch.push({key, object})
      bytes += object.length
    }
    if (batch.length > 0) {
      const problem = await this.deliver(task, batch)
      if (problem !== undefined) {
        task.state = 'retrying'
        task.problem = problem
        task.retryAtMs = this.options.clock.nowMs() + handoffRetryMs
        return
      }
    }
    for (const {key, object} of batch) task.sent.set(keyName(key), digestOf(object))
    task.keysSent += batch.length
    task.next = index
    task.state = 'sending'
    task.problem = undefined
  }

  /** Sends a batch to every target; undefined when all acknowledged, else the problem. */
  private async deliver(task: Task, batch: readonly {key: Uint8Array; object: Uint8Array}[]): Promise<string | undefined> {
    const {transport, health} = this.options
    const request = {partition: task.partition, keys: batch.map((item) => item.key), objects: batch.map((item) => item.object)}
    const outcomes = await Promise.all(
      task.targets.map(async (target): Promise<string | undefined> => {
        try {
          const response = await transport.request(target, 'replica.putMany', request, {timeoutMs: handoffTimeoutMs})
          health.heard(target)
          return response.ok ? undefined : `${target}: ${response.error.message}`
        } catch (error) {
          health.failed(target, error)
          if (!(error instanceof DynError)) throw error
          return `${target}: ${error.message}`
        }
      }),
    )
    const problems = outcomes.filter((outcome) => outcome !== undefined)
    return problems.length === 0 ? undefined : problems.join('; ')
  }

  /** Every batch was acknowledged: remove each key whose copy is still the one sent, then
   * drop the partition when nothing is left, or start another pass for what changed. */
  private async remove(task: Task): Promise<void> {
    const {objects} = this.options
    task.state = 'removing'
    for (const key of task.keys ?? []) {
      // A task replaced meanwhile (the ring changed again) must not remove anything: its
      // targets may no longer be the primaries.
      if (this.tasks.get(task.partition) !== task) return
      const sent = task.sent.get(keyName(key))
      if (sent === undefined) continue
      await objects.exclusive(task.partition, key, async (current, removeKey) => {
        if (current !== undefined && equalBytes(digestOf(current), sent)) await removeKey()
      })
    }
    if (this.tasks.get(task.partition) !== task) return
    if (objects.keyCount(task.partition) > 0) {
      // Written since the pass started: send those in another pass.
      task.keys = undefined
      task.sent.clear()
      task.state = 'pending'
      return
    }
    this.tasks.delete(task.partition)
    await objects.drop(task.partition)
    this.options.onFinished?.(task.partition, task.targets)
  }

  /** A leaving node with nothing left to hand off becomes 'left'. */
  private finishLeave(): void {
    const self = this.options.view.member(this.options.self)
    if (this.finishing || self?.status !== 'leaving') return
    if (this.options.view.ring.nodes.some((node) => node.name === this.options.self)) return
    if (this.options.objects.partitions().length > 0) {
      this.plan()
      return
    }
    this.finishing = true
    this.options.background.track(this.options.onHandedOff().finally(() => (this.finishing = false)))
  }

  private primaries(ring: Ring, partition: number): readonly string[] {
    return preferenceList(ring, {partition}, {n: this.options.n}).primaries
  }
}

/** The primaries a moving partition is sent to: those that did not hold it already, or all of
 * them when every primary held it (the ring has fewer nodes than before and than N): a key
 * only the sender holds must reach some primary before the sender drops it. */
function handoffTargets(primaries: readonly string[], holders: readonly string[]): readonly string[] {
  const lacking = primaries.filter((name) => !holders.includes(name))
  return lacking.length > 0 ? lacking : primaries
}

function newTask(options: {partition: number; targets: readonly string[]; holders: readonly string[]}): Task {
  const {partition, targets, holders} = options
  return {partition, targets, holders, keys: undefined, next: 0, sent: new Map(), keysSent: 0, state: 'pending', retryAtMs: 0, busy: false, problem: undefined}
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name) => b.includes(name))
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
}
