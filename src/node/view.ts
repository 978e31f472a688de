// This node's current view of the cluster: members, their addresses and the ring
// (core/membership.ts). Gossip replaces it with merged views; routing reads it on every
// request. Listeners hear about ring changes (ownership handoff starts from them).
import type {NodeAddress} from '../core/protocol.js'
import type {Member, View} from '../core/membership.js'
import {preferenceList, type Ring} from '../core/ring.js'

export type ViewListener = (next: View, previous: View) => void

export class ClusterView {
  private current: View
  private readonly listeners: ViewListener[] = []
  /** Primaries per partition of the current ring, filled on demand: every replica write
   * asks, and a preference-list walk is O(Q). Emptied when the view changes. */
  private readonly primariesCache = new Map<number, readonly string[]>()

  constructor(
    readonly self: string,
    initial: View,
    /** N: replicas per key. */
    readonly n: number,
  ) {
    this.current = initial
  }

  /** The N primary replicas of a partition in the current ring. */
  primaries(partition: number): readonly string[] {
    let primaries = this.primariesCache.get(partition)
    if (primaries === undefined) {
      primaries = preferenceList(this.current.ring, {partition}, {n: this.n}).primaries
      this.primariesCache.set(partition, primaries)
    }
    return primaries
  }

  /** Whether this node is one of the partition's primaries in the current ring. */
  replicates(partition: number): boolean {
    return this.primaries(partition).includes(this.self)
  }

  get view(): View {
    return this.current
  }

  get ring(): Ring {
    return this.current.ring
  }

  member(name: string): Member | undefined {
    return this.current.members.find((member) => member.name === name)
  }

  /** Where each current member listens. */
  addresses(): NodeAddress[] {
    return this.current.members.filter((member) => member.status !== 'left').map((member) => ({name: member.name, address: member.address}))
  }

  /** Every other member this node should talk to. */
  peers(): string[] {
    return this.current.members.filter((member) => member.status !== 'left' && member.name !== this.self).map((member) => member.name)
  }

  onChange(listener: ViewListener): void {
    this.listeners.push(listener)
  }

  /** Installs a new view (a merge result); listeners run when anything changed. */
  replace(next: View): void {
    const previous = this.current
    if (next === previous) return
    this.current = next
    if (next.ring !== previous.ring) this.primariesCache.clear()
    for (const listener of this.listeners) listener(next, previous)
  }
}
