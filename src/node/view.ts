// This node's current view of the cluster: members, their addresses and the ring
// (core/membership.ts). Gossip replaces it with merged views; routing reads it on every
// request. Listeners hear about ring changes (ownership handoff starts from them).
import type {NodeAddress} from '../core/protocol.js'
import type {Member, View} from '../core/membership.js'
import type {Ring} from '../core/ring.js'

export type ViewListener = (next: View, previous: View) => void

export class ClusterView {
  private current: View
  private readonly listeners: ViewListener[] = []

  constructor(
    readonly self: string,
    initial: View,
  ) {
    this.current = initial
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
    for (const listener of this.listeners) listener(next, previous)
  }
}
