// Work a node does after it answered, or on its own (stragglers, read repair, pings, hint
// delivery, anti-entropy): tracked so a graceful stop and the simulator can wait for it to
// finish, and so a failure in it is reported instead of lost.

export class Background {
  private readonly running = new Set<Promise<unknown>>()

  constructor(private readonly onError: (error: unknown) => void) {}

  /** Tracks `work`; its rejection goes to onError. */
  track(work: Promise<unknown>): void {
    const tracked: Promise<unknown> = work.catch(this.onError).finally(() => this.running.delete(tracked))
    this.running.add(tracked)
  }

  get size(): number {
    return this.running.size
  }

  /** Resolves once nothing is running, including work started meanwhile. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running])
  }
}
