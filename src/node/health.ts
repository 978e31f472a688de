// Local failure detection (DESIGN §5): a peer is suspected when it has not been heard from
// for a while or its requests keep timing out (core/suspicion.ts decides). Every answer
// from a peer counts as a heartbeat; peers not heard from lately are pinged on ticks.
// Suspicion changes routing only (which replicas a coordinator asks, whether a write goes
// to a fallback), never membership. Listeners hear when a suspicion ends (onRecovered):
// a peer that was away may have missed writes, which anti-entropy repairs first.
import {DynError} from '../core/errors.js'
import {SuspicionTracker, type SuspicionOptions} from '../core/suspicion.js'
import type {Clock, Transport} from './ports.js'

/** How often a peer is pinged when nothing else was heard from it: a fraction of the
 * suspicion timeout, so a live peer is heard several times before it could be suspected. */
export const heartbeatIntervalMs = 1_000

/** A ping waits this long: a peer slower than this is as good as down for routing. */
export const pingTimeoutMs = 1_000

/** Called with a peer whose suspicion just ended. */
export type RecoveryListener = (node: string) => void

export class Health {
  private readonly tracker: SuspicionTracker
  private readonly recoveryListeners: RecoveryListener[] = []
  private readonly lastPingMs = new Map<string, number>()
  private readonly pinging = new Set<string>()

  constructor(
    private readonly self: string,
    private readonly ports: {readonly transport: Transport; readonly clock: Clock},
    options: Partial<SuspicionOptions> = {},
  ) {
    this.tracker = new SuspicionTracker(options)
  }

  /** The peer answered something. */
  heard(node: string): void {
    if (node === this.self) return
    const nowMs = this.ports.clock.nowMs()
    const wasSuspect = this.tracker.isSuspect(node, nowMs)
    this.tracker.recordHeartbeat(node, nowMs)
    if (wasSuspect && !this.tracker.isSuspect(node, nowMs)) for (const listener of this.recoveryListeners) listener(node)
  }

  /** Calls `listener` each time a suspected peer is heard from again. Listeners run inside
   * heard(), on the path of whatever answer proved the peer alive: they must only note it. */
  onRecovered(listener: RecoveryListener): void {
    this.recoveryListeners.push(listener)
  }

  /** A request to the peer failed: a timeout or a refused connection. */
  failed(node: string, error: unknown): void {
    if (node === this.self) return
    if (error instanceof DynError && (error.code === 'TIMEOUT' || error.code === 'CONNECT_FAILED' || error.code === 'CONNECTION_CLOSED')) {
      this.tracker.recordTimeout(node, this.ports.clock.nowMs())
    }
  }

  isHealthy(node: string): boolean {
    return node === this.self || !this.tracker.isSuspect(node, this.ports.clock.nowMs())
  }

  /** A predicate for preferenceList's `healthy`, fixed at the current time. */
  predicate(): (node: string) => boolean {
    const healthy = this.tracker.healthyAt(this.ports.clock.nowMs())
    return (node) => node === this.self || healthy(node)
  }

  suspects(): string[] {
    return this.tracker.suspects(this.ports.clock.nowMs())
  }

  /** Pings every peer not pinged within heartbeatIntervalMs; returns the pings under way. */
  tick(peers: readonly string[]): Promise<void>[] {
    const nowMs = this.ports.clock.nowMs()
    const pings: Promise<void>[] = []
    for (const peer of peers) {
      if (peer === this.self || this.pinging.has(peer)) continue
      if (nowMs - (this.lastPingMs.get(peer) ?? -Infinity) < heartbeatIntervalMs) continue
      this.lastPingMs.set(peer, nowMs)
      pings.push(this.ping(peer))
    }
    return pings
  }

  private async ping(peer: string): Promise<void> {
    this.pinging.add(peer)
    try {
      await this.ports.transport.request(peer, 'node.ping', {from: this.self}, {timeoutMs: pingTimeoutMs})
      this.heard(peer)
    } catch (error) {
      this.failed(peer, error)
    } finally {
      this.pinging.delete(peer)
    }
  }
}
