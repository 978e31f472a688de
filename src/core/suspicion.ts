// Local failure suspicion (DESIGN §5; Dynamo §4.8.3: "a purely local view of failure
// detection is entirely sufficient"). A node is suspected when nothing has been heard from
// it for `suspectAfterMs`, or when requests to it timed out `timeoutsToSuspect` times in a
// row with no message from it in between. Suspicion changes routing only (preference-list
// fallbacks, ring.ts); it never changes membership. Time enters as `nowMs`; nothing here
// reads a clock, so the same calls give the same answers.

export interface SuspicionOptions {
  /** Silence after which a node is suspected. Gossip reaches a given peer about once per
   * second on average (DESIGN §5), so 5 s is several missed rounds: longer delays failover,
   * shorter flaps on a busy or paused process (GC, swapping). */
  readonly suspectAfterMs: number
  /** Consecutive request timeouts that suspect a node before its silence does: one slow
   * request proves little, two in a row with no sign of life in between are a pattern. */
  readonly timeoutsToSuspect: number
}

export const suspicionDefaults: SuspicionOptions = {suspectAfterMs: 5000, timeoutsToSuspect: 2}

interface PeerRecord {
  /** Latest time any message was received from the node. */
  lastHeardMs: number
  /** Request timeouts since lastHeardMs. */
  timeouts: number
}

/** Heartbeat and timeout bookkeeping for the peers of one node. Unknown nodes are not
 * suspected: there is no evidence against them until they are tracked. */
export class SuspicionTracker {
  private readonly peers = new Map<string, PeerRecord>()
  private readonly options: SuspicionOptions

  constructor(options: Partial<SuspicionOptions> = {}) {
    this.options = {...suspicionDefaults, ...options}
  }

  /** Any message from `node` is a heartbeat. Times may arrive out of order; the latest counts. */
  recordHeartbeat(node: string, nowMs: number): void {
    const peer = this.peers.get(node)
    if (peer === undefined) {
      this.peers.set(node, {lastHeardMs: nowMs, timeouts: 0})
    } else if (nowMs >= peer.lastHeardMs) {
      peer.lastHeardMs = nowMs
      peer.timeouts = 0
    }
  }

  /** A request to `node` timed out at nowMs. */
  recordTimeout(node: string, nowMs: number): void {
    const peer = this.peers.get(node)
    if (peer === undefined) this.peers.set(node, {lastHeardMs: nowMs, timeouts: 1})
    else if (nowMs >= peer.lastHeardMs) peer.timeouts++
  }

  /** Stops tracking a node (it left the cluster). */
  forget(node: string): void {
    this.peers.delete(node)
  }

  isSuspect(node: string, nowMs: number): boolean {
    const peer = this.peers.get(node)
    if (peer === undefined) return false
    return nowMs - peer.lastHeardMs > this.options.suspectAfterMs || peer.timeouts >= this.options.timeoutsToSuspect
  }

  /** Suspected nodes, sorted. */
  suspects(nowMs: number): string[] {
    return [...this.peers.keys()].filter((node) => this.isSuspect(node, nowMs)).sort()
  }

  /** A health check for `preferenceList` (ring.ts) at one instant. */
  healthyAt(nowMs: number): (node: string) => boolean {
    return (node) => !this.isSuspect(node, nowMs)
  }
}
