// The event trace of one run: one line per message, fault, operation and check, stamped with
// virtual time. Its SHA-256 is the run's fingerprint: the same seed must give the same hash,
// which is how the determinism test sees any hidden source of nondeterminism.
import {createHash, type Hash} from 'node:crypto'
import type {Clock} from '../node/ports.js'

/** Lines kept for the excerpt a violation prints; older ones are only hashed. */
export const traceLinesKept = 20_000

export class Trace {
  private readonly hash: Hash = createHash('sha256')
  private readonly lines: string[] = []
  private count = 0

  constructor(
    private readonly clock: Clock,
    /** Receives every line as it is written (--verbose). */
    private readonly sink?: (line: string) => void,
  ) {}

  record(line: string): void {
    const stamped = `${String(this.clock.nowMs()).padStart(7)} ${line}`
    this.hash.update(stamped).update('\n')
    this.count++
    if (this.lines.length < traceLinesKept) this.lines.push(stamped)
    this.sink?.(stamped)
  }

  /** The virtual time lines are stamped with. */
  nowMs(): number {
    return this.clock.nowMs()
  }

  get length(): number {
    return this.count
  }

  /** Hex SHA-256 of every line so far. */
  digest(): string {
    return this.hash.copy().digest('hex')
  }

  /** The last `limit` kept lines that contain every one of `needles`. */
  excerpt(needles: readonly string[], limit: number): string[] {
    return this.lines.filter((line) => needles.every((needle) => line.includes(needle))).slice(-limit)
  }
}
