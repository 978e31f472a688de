// The counters of the dots this node creates. A dot names one write, so a node must never
// hand out the same counter twice, not even after it lost its copy of a key (a fallback
// that delivered its hint and deleted the copy, a partition handed off and dropped, a
// crash that lost unsynced writes under `--sync none`). With the put rule's per-key
// max(VV[X], C[X]) + 1 alone, any of these would reuse a dot for a different value, and
// replicas would silently keep one of the two acknowledged writes (Riak's vnode epochs
// exist for the same reason).
//
// So counters come from one node-wide sequence that only grows: the node reserves a block
// of counters in its MetaStore (durably) before it uses any of them, and after a restart
// continues past the last reserved block. Gaps are harmless: a version vector entry n for
// node X means "has seen X's dots up to n for this key", and X's other dots belong to other
// keys. The price is one small durable write per block.
import type {MetaStore} from './ports.js'

/** Counters reserved per durable write: one metadata fsync per this many writes. */
export const dotCounterBlock = 10_000

const documentName = 'dot-counter'

export class DotCounter {
  /** Last counter handed out. */
  private last = 0
  /** Highest counter reserved durably; `last` never passes it. */
  private reserved = 0
  private reserving: Promise<void> | undefined

  constructor(private readonly meta: MetaStore) {}

  /** Continues after the last block reserved before a restart. */
  async load(): Promise<void> {
    const bytes = await this.meta.read(documentName)
    const stored = bytes === undefined ? 0 : Number(new TextDecoder().decode(bytes))
    this.last = Number.isSafeInteger(stored) && stored > 0 ? stored : 0
    this.reserved = this.last
  }

  /** True when this node never reserved a counter: it never wrote from this data directory. */
  get unused(): boolean {
    return this.reserved === 0
  }

  /** A counter never handed out before by this node, including before any restart, and
   * greater than `after` (a counter of this node seen in a context or a copy: normally
   * already below `last`, but a crafted context could name a higher one). */
  async next(after = 0): Promise<number> {
    if (after > this.last) this.last = after
    while (this.last >= this.reserved) {
      this.reserving ??= this.reserve().finally(() => (this.reserving = undefined))
      await this.reserving
    }
    this.last++
    return this.last
  }

  private async reserve(): Promise<void> {
    const until = Math.max(this.reserved, this.last) + dotCounterBlock
    await this.meta.write(documentName, new TextEncoder().encode(String(until)))
    this.reserved = until
  }
}
