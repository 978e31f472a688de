// The load generator's clock: what it reads time from and sleeps on. The real one uses the
// monotonic performance clock and timers; tests give a virtual one, so that stop conditions
// and latency accounting are checked without waiting on real time.

export interface LoadClock {
  /** Milliseconds on a monotonic clock; only differences are meaningful. */
  nowMs(): number
  /** Resolves once nowMs() ≥ atMs, or early when `signal` aborts. */
  sleepUntil(atMs: number, signal?: AbortSignal): Promise<void>
}

export const realClock: LoadClock = {
  nowMs: () => performance.now(),
  sleepUntil: (atMs, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted === true) return resolve()
      const wake = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', wake)
        resolve()
      }
      const timer = setTimeout(wake, Math.max(0, atMs - performance.now()))
      signal?.addEventListener('abort', wake, {once: true})
    }),
}
