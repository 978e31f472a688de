// Hinted handoff (Dynamo §4.6, DESIGN §5). When a primary replica is unreachable, the
// coordinator sends its copy of a write to the next healthy fallback with a hint naming the
// primary. The fallback stores the object like any other write and records the hint in its
// store, so hints survive restarts. On ticks it delivers hinted objects to their primaries
// once they are reachable again; a hint is deleted only after the primary acknowledged the
// object, and the fallback's copy only when the fallback does not replicate the key itself
// and the copy did not change meanwhile.
//
// Hint records live in a partition of the node's store that no ring uses (hintsPartition):
// key = primary name, NUL, partition (4 bytes), key bytes; value empty.
import {Buffer} from 'node:buffer'
import {partitionCountMax} from '../core/ring.js'
import type {Background} from './background.js'
import type {Health} from './health.js'
import {keysOf, type LocalObjects} from './objects.js'
import type {ObjectStore, Transport} from './ports.js'

/** The store partition holding hint records: the first index past any ring's partitions. */
export const hintsPartition = partitionCountMax

/** Hints delivered per primary per tick: bounds the burst a returning node receives while
 * it may also be serving clients again. */
export const hintsPerDeliveryMax = 256

/** How long a delivery waits for the primary's acknowledgement. */
export const hintDeliveryTimeoutMs = 5_000

export interface Hint {
  readonly target: string
  readonly partition: number
  readonly key: Uint8Array
}

export function encodeHintKey(hint: Hint): Uint8Array {
  const target = Buffer.from(hint.target, 'utf8')
  const out = Buffer.alloc(target.length + 1 + 4 + hint.key.length)
  target.copy(out, 0)
  out[target.length] = 0
  out.writeUInt32BE(hint.partition, target.length + 1)
  Buffer.from(hint.key.buffer, hint.key.byteOffset, hint.key.byteLength).copy(out, target.length + 5)
  return new Uint8Array(out)
}

export function decodeHintKey(bytes: Uint8Array): Hint | undefined {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const zero = buffer.indexOf(0)
  if (zero < 1 || buffer.length < zero + 5) return undefined
  return {
    target: buffer.subarray(0, zero).toString('utf8'),
    partition: buffer.readUInt32BE(zero + 1),
    key: new Uint8Array(buffer.subarray(zero + 5)),
  }
}

const empty = new Uint8Array(0)

export interface HintsOptions {
  readonly self: string
  readonly store: ObjectStore
  readonly objects: LocalObjects
  readonly transport: Transport
  readonly health: Health
  readonly background: Background
  /** Whether this node is currently a primary replica of the partition. */
  readonly replicates: (partition: number) => boolean
  /** Every member name: the possible targets of other hints for the same key. */
  readonly members: () => readonly string[]
  /** The partition's primary replicas in the current ring. */
  readonly primariesOf: (partition: number) => readonly string[]
}

export class Hints {
  private delivering = false
  /** Hints recorded and not yet delivered, for status and metrics; counted from the store at start. */
  private pendingCount = 0
  /** Hints settled by a delivery the recipients acknowledged since the node started: how fast
   * the hints held here drain (status and metrics). */
  private deliveredCount = 0

  constructor(private readonly options: HintsOptions) {}

  async load(): Promise<void> {
    let count = 0
    for await (const _ of keysOf(this.options.store, hintsPartition)) count++
    this.pendingCount = count
  }

  get pending(): number {
    return this.pendingCount
  }

  get delivered(): number {
    return this.deliveredCount
  }

  /** Records that this node holds `key` of `partition` for `target`. Durable when it resolves. */
  async record(hint: Hint): Promise<void> {
    const hintKey = encodeHintKey(hint)
    if ((await this.options.store.get(hintsPartition, hintKey)) === undefined) this.pendingCount++
    await this.options.store.put(hintsPartition, hintKey, empty)
  }

  /** Starts one delivery round in the background unless one is running. */
  tick(): void {
    if (this.delivering || this.pendingCount === 0) return
    this.delivering = true
    this.options.background.track(this.deliverRound().finally(() => (this.delivering = false)))
  }

  /** Delivers hints to every healthy target, up to hintsPerDeliveryMax each. */
  async deliverRound(): Promise<void> {
    const perTarget = new Map<string, Hint[]>()
    for await (const {key} of this.options.store.entries(hintsPartition)) {
      const hint = decodeHintKey(key)
      if (hint === undefined) {
        await this.forget(key)
        continue
      }
      // A hint whose target no longer replicates the partition (it left, or was removed by
      // force because its host is gone) goes to the current primaries: its target's health
      // does not matter any more, and a removed target never becomes healthy again.
      const redirected = !this.options.primariesOf(hint.partition).includes(hint.target)
      if (!redirected && !this.options.health.isHealthy(hint.target)) continue
      const list = perTarget.get(hint.target) ?? []
      if (list.length < hintsPerDeliveryMax) list.push(hint)
      perTarget.set(hint.target, list)
    }
    await Promise.all([...perTarget.values()].map((hints) => this.deliverAll(hints)))
  }

  private async deliverAll(hints: readonly Hint[]): Promise<void> {
    for (const hint of hints) {
      if (!(await this.deliver(hint))) return
    }
  }

  /** Where a hinted object goes: its primary, or, when the ring moved on and that node no
   * longer replicates the partition (it left, or the partition was handed off), the
   * partition's current primaries. */
  private recipients(hint: Hint): string[] {
    const primaries = this.options.primariesOf(hint.partition)
    if (primaries.includes(hint.target)) return [hint.target]
    return primaries.filter((node) => node !== this.options.self)
  }

  /** Sends one hinted object; false when a recipient did not take it (try again later). */
  private async deliver(hint: Hint): Promise<boolean> {
    const {objects, transport, health} = this.options
    const bytes = await objects.readBytes(hint.partition, hint.key)
    if (bytes === undefined) {
      await this.forget(encodeHintKey(hint))
      return true
    }
    for (const recipient of this.recipients(hint)) {
      try {
        const response = await transport.request(recipient, 'replica.put', {partition: hint.partition, key: hint.key, object: bytes}, {timeoutMs: hintDeliveryTimeoutMs})
        health.heard(recipient)
        if (!response.ok) return false
      } catch (error) {
        health.failed(recipient, error)
        return false
      }
    }
    // Under the key's lock: only the copy that was delivered settles the hint. A write that
    // arrived meanwhile keeps the hint, and the next round delivers the newer copy.
    return objects.exclusive(hint.partition, hint.key, async (current, remove) => {
      if (current === undefined || Buffer.compare(current, bytes) !== 0) return true
      await this.forget(encodeHintKey(hint))
      this.deliveredCount++
      if (!this.options.replicates(hint.partition) && !(await this.heldForOthers(hint))) await remove()
      return true
    })
  }

  /** Whether the same key is also held for another primary, whose hint still needs the copy. */
  private async heldForOthers(hint: Hint): Promise<boolean> {
    for (const target of this.options.members()) {
      if (target === hint.target) continue
      if ((await this.options.store.get(hintsPartition, encodeHintKey({...hint, target}))) !== undefined) return true
    }
    return false
  }

  private async forget(hintKey: Uint8Array): Promise<void> {
    if ((await this.options.store.get(hintsPartition, hintKey)) === undefined) return
    await this.options.store.delete(hintsPartition, hintKey)
    this.pendingCount = Math.max(0, this.pendingCount - 1)
  }
}
