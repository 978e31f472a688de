// Serialises read-modify-write cycles per key. A replica merges an incoming object into its
// own copy (read, sync, write); two such cycles on one key must not interleave, or the second
// write would be computed from a copy that misses the first and lose it.

/** Longest queue of waiters on one key: a bound on memory if one key is hammered; beyond
 * it, callers get an error instead of queueing without end. */
export const keyWaitersMax = 10_000

export class KeyedLock {
  // Invariant: a key is present exactly while some task holds or waits for it; the value
  // is the tail of its queue and the number of tasks in it.
  private readonly tails = new Map<string, {tail: Promise<void>; queued: number}>()

  /** Runs `task` once every earlier task on `key` has finished. */
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const entry = this.tails.get(key)
    if (entry !== undefined && entry.queued >= keyWaitersMax) {
      throw new Error(`more than ${keyWaitersMax} writes are waiting on one key`)
    }
    const previous = entry?.tail ?? Promise.resolve()
    let release!: () => void
    const current = new Promise<void>((resolve) => {
      release = resolve
    })
    const mine = {tail: previous.then(() => current), queued: (entry?.queued ?? 0) + 1}
    this.tails.set(key, mine)
    await previous
    try {
      return await task()
    } finally {
      release()
      const latest = this.tails.get(key)
      if (latest !== undefined) {
        latest.queued--
        if (latest.queued === 0) this.tails.delete(key)
      }
    }
  }

  /** Keys with a task running or waiting. */
  get size(): number {
    return this.tails.size
  }
}
