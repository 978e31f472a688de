// A virtual clock and a fake target for the load generator's tests: time advances only when
// every pending callback has run, so runs are deterministic and take no real time.
import {DynError} from '../../src/core/errors.js'
import type {BenchTarget, LoadClock} from '../../src/load/index.js'

interface Timer {
  readonly atMs: number
  readonly order: number
  readonly wake: () => void
}

export class VirtualClock implements LoadClock {
  private now = 0
  private order = 0
  private timers: Timer[] = []

  nowMs(): number {
    return this.now
  }

  sleepUntil(atMs: number, signal?: AbortSignal): Promise<void> {
    if (atMs <= this.now || signal?.aborted === true) return Promise.resolve()
    return new Promise((resolve) => {
      const timer: Timer = {atMs, order: this.order++, wake: resolve}
      this.timers.push(timer)
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((other) => other !== timer)
          resolve()
        },
        {once: true},
      )
    })
  }

  sleep(ms: number): Promise<void> {
    return this.sleepUntil(this.now + ms)
  }

  /** Runs `work`, moving time to the next timer whenever nothing else is left to run. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    let settled = false
    const promise = work()
    promise.then(
      () => (settled = true),
      () => (settled = true),
    )
    for (;;) {
      // setImmediate runs after every queued promise callback: nothing else can happen
      // until a timer fires.
      await new Promise((resolve) => setImmediate(resolve))
      if (settled) return promise
      const next = this.timers.reduce<Timer | undefined>((earliest, timer) => (earliest === undefined || timer.atMs < earliest.atMs || (timer.atMs === earliest.atMs && timer.order < earliest.order) ? timer : earliest), undefined)
      if (next === undefined) throw new Error('the work waits for something that is not a virtual timer')
      this.timers = this.timers.filter((timer) => timer !== next)
      this.now = Math.max(this.now, next.atMs)
      next.wake()
    }
  }
}

export interface SentOperation {
  readonly kind: 'read' | 'update'
  readonly key: string
  readonly atMs: number
  /** Updates: the context sent. */
  readonly context?: string | undefined
  /** Updates: the last context this target handed out for the key before. */
  readonly latest?: string | undefined
}

export interface FakeTargetOptions {
  /** Time each operation takes. */
  readonly serviceMs: number
  /** Everything in progress during [fromMs, toMs) finishes no earlier than toMs (a stall:
   * a pause of the whole target, such as a long fsync or a garbage collection). */
  readonly stall?: {readonly fromMs: number; readonly toMs: number}
  /** An error to fail the n-th operation (from 0) with, if any. */
  readonly failure?: (n: number) => Error | undefined
}

/** A store of versions per key: contexts are `key@version`. */
export class FakeTarget implements BenchTarget {
  readonly sent: SentOperation[] = []
  readonly versions = new Map<string, number>()
  readonly returned = new Map<string, string>()

  constructor(
    private readonly clock: VirtualClock,
    private readonly options: FakeTargetOptions,
  ) {}

  async read(key: string): Promise<{found: boolean; context: string}> {
    await this.serve({kind: 'read', key, atMs: this.clock.nowMs()})
    const version = this.versions.get(key)
    const context = `${key}@${version ?? 0}`
    this.returned.set(key, context)
    return {found: version !== undefined, context}
  }

  async update(key: string, _value: Uint8Array, context: string | undefined): Promise<{context: string}> {
    await this.serve({kind: 'update', key, atMs: this.clock.nowMs(), context, latest: this.returned.get(key)})
    const version = (this.versions.get(key) ?? 0) + 1
    this.versions.set(key, version)
    const next = `${key}@${version}`
    this.returned.set(key, next)
    return {context: next}
  }

  private async serve(operation: SentOperation): Promise<void> {
    const n = this.sent.length
    this.sent.push(operation)
    let doneMs = operation.atMs + this.options.serviceMs
    const stall = this.options.stall
    if (stall !== undefined && operation.atMs < stall.toMs && doneMs > stall.fromMs) doneMs = Math.max(doneMs, stall.toMs)
    await this.clock.sleepUntil(doneMs)
    const error = this.options.failure?.(n)
    if (error !== undefined) throw error
  }
}

export function codedError(code: string): DynError {
  return new DynError(`failed with ${code}`, {code})
}
