// The load every system gets: a closed loop of `concurrency` workers in this one process,
// each sending its next request as soon as its last one was answered, so at most
// `concurrency` requests are in flight. The same loop, keys and values drive every system;
// only the Target (a client library behind two methods) differs.
import type {SystemName} from './rows.js'

/** A system under test, as the load sees it. `worker` lets a target spread workers over
 * its members the way a deployment would spread clients. */
export interface Target {
  readonly system: SystemName
  put(worker: number, key: string, value: Uint8Array): Promise<void>
  /** Whether the key was found. */
  get(worker: number, key: string): Promise<boolean>
  close(): Promise<void>
}

/** Size of every value written: the benchmark's fixed 1 KiB. */
export const valueBytes = 1024

/** Keys written before the gets, read back at random: enough that reads spread over all of
 * Q=64 partitions and every member, few enough to preload in seconds. */
export const preloadKeys = 10_000

/** Requests in flight while preloading: the preload is setup, not a measurement. */
const preloadConcurrency = 64

/** Failed requests after which a worker stops early: a target that fails every request
 * answers fast, and a worker spinning on errors would only heat the machine. */
const workerErrorsMax = 100

export const benchValue = (): Uint8Array => new Uint8Array(valueBytes).fill(0x78)

/** The i-th preloaded key. */
export const preloadKey = (i: number): string => `bench-key-${i % preloadKeys}`

/** Multipliers that scatter (worker, i) over the preloaded keys; primes, so that workers
 * do not walk the keys in step with one another. */
const workerStride = 7919
const requestStride = 104_729

export interface LoopResult {
  readonly latenciesMs: number[]
  readonly elapsedMs: number
  readonly errors: number
}

export async function preload(target: Target, value: Uint8Array): Promise<void> {
  for (let start = 0; start < preloadKeys; start += preloadConcurrency) {
    const count = Math.min(preloadConcurrency, preloadKeys - start)
    await Promise.all(Array.from({length: count}, (_, j) => target.put(j, preloadKey(start + j), value)))
  }
}

/** Runs `concurrency` workers for `seconds`; each calls op(worker, i) again and again. */
export async function closedLoop(concurrency: number, seconds: number, op: (worker: number, i: number) => Promise<void>): Promise<LoopResult> {
  const latenciesMs: number[] = []
  let errors = 0
  const startedAt = performance.now()
  const endAt = startedAt + seconds * 1000
  await Promise.all(
    Array.from({length: concurrency}, async (_, worker) => {
      let workerErrors = 0
      for (let i = 0; performance.now() < endAt && workerErrors < workerErrorsMax; i++) {
        const start = performance.now()
        try {
          await op(worker, i)
          latenciesMs.push(performance.now() - start)
        } catch {
          errors++
          workerErrors++
        }
      }
    }),
  )
  return {latenciesMs, elapsedMs: performance.now() - startedAt, errors}
}

/** Blind puts of keys never written before: each is one fresh durable write, no siblings
 * or version history pile up. `prefix` keeps keys of different measurements apart. */
export function putFresh(target: Target, value: Uint8Array, prefix: string): (worker: number, i: number) => Promise<void> {
  return (worker, i) => target.put(worker, `${prefix}-${worker}-${i}`, value)
}

/** Gets of preloaded keys; a key that is not found is an error (the preload was lost). */
export function getPreloaded(target: Target): (worker: number, i: number) => Promise<void> {
  return async (worker, i) => {
    if (!(await target.get(worker, preloadKey(worker * workerStride + i * requestStride)))) throw new Error('preloaded key not found')
  }
}
