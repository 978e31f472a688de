// The simulated network: every request between simulated endpoints (nodes and clients) goes
// through one SimNetwork, which delays, drops, duplicates and reorders it as the run's fault
// settings and random stream say (the faults Jepsen and TigerBeetle's VOPR inject). Payloads
// travel as MessagePack bytes encoded the way the wire protocol encodes them, and every
// request is checked with parseRequest as the daemon does, so nodes never share a mutable
// object and a payload that would not survive the wire fails here too.
import type {AsyncLocalStorage} from 'node:async_hooks'
import {Buffer} from 'node:buffer'
import {DynError, assert} from '../core/errors.js'
import {failure, parseRequest, type MessageType, type RequestOf, type ResponseOf} from '../core/protocol.js'
import {randomFloat, randomInt, type Random} from '../core/random.js'
import {decodeBody, encodeBody} from '../net/codec.js'
import type {RequestOptions, Transport} from '../node/ports.js'
import type {Scheduler} from './scheduler.js'
import type {Trace} from './trace.js'

/** Payloads cross the simulated network in wire frame bodies (src/net/codec.ts): whatever
 * would not survive the real wire fails here too. */
function pack(type: string, payload: unknown): Uint8Array {
  return encodeBody({type, id: 1, payload})
}

function unpack(body: Uint8Array): unknown {
  return decodeBody(body).payload
}

export interface NetworkFaults {
  /** Chance that one leg (request or reply) is lost. */
  readonly dropProbability: number
  /** Chance that a request is delivered twice; the second reply is ignored by the caller. */
  readonly duplicateProbability: number
  /** Chance that one leg takes longer than the caller's timeout. */
  readonly longDelayProbability: number
  /** One leg's ordinary delay is uniform in [delayMsMin, delayMsMax]; independent delays reorder. */
  readonly delayMsMin: number
  readonly delayMsMax: number
}

export interface NetworkStats {
  requests: number
  delivered: number
  dropped: number
  duplicated: number
  delayedLong: number
  timeouts: number
  lateRepliesIgnored: number
}

/** What an endpoint does with a request; a rejection is a bug in the endpoint. */
export type RequestHandler = <T extends MessageType>(type: T, request: RequestOf<T>) => Promise<ResponseOf<T>>

export class SimTimeoutError extends DynError {
  constructor(peer: string, type: string, timeoutMs: number) {
    super(`no answer from ${peer} to ${type} within ${timeoutMs} ms`, {
      code: 'TIMEOUT',
      suggestion: 'check that the node is running and reachable',
    })
  }
}

export class SimUnknownPeerError extends DynError {
  constructor(peer: string) {
    super(`cannot connect to ${peer}: no such node in the simulated network`, {
      code: 'CONNECT_FAILED',
      suggestion: 'check the member list',
    })
  }
}

export interface SimNetworkOptions {
  readonly scheduler: Scheduler
  readonly random: Random
  readonly trace: Trace
  readonly faults: NetworkFaults
  /** The client operation a request belongs to travels with it, so the store can tell which
   * operation created a dot (see ledger.ts). */
  readonly operations: AsyncLocalStorage<number>
  /** Called when a handler rejects: a bug in the node. */
  readonly onCrash: (endpoint: string, error: unknown) => void
}

interface Exchange {
  readonly id: number
  readonly from: string
  readonly peer: string
  readonly type: MessageType
  readonly timeoutMs: number
  readonly operation: number | undefined
  /** The key the request is about, for trace excerpts. */
  readonly key: string | undefined
  answered: boolean
}

export class SimNetwork {
  readonly stats: NetworkStats = {requests: 0, delivered: 0, dropped: 0, duplicated: 0, delayedLong: 0, timeouts: 0, lateRepliesIgnored: 0}
  private readonly handlers = new Map<string, RequestHandler>()
  private faults: NetworkFaults
  private messageId = 0

  constructor(private readonly options: SimNetworkOptions) {
    this.faults = options.faults
  }

  register(name: string, handler: RequestHandler): void {
    assert(!this.handlers.has(name), `endpoint ${name} is registered once`)
    this.handlers.set(name, handler)
  }

  /** From now on no message is lost, duplicated or held beyond its timeout. */
  heal(): void {
    this.faults = {...this.faults, dropProbability: 0, duplicateProbability: 0, longDelayProbability: 0}
    this.options.trace.record('network healed: no more faults')
  }

  /** The Transport port of one endpoint. */
  transport(from: string): Transport {
    return {
      request: <T extends MessageType>(peer: string, type: T, payload: RequestOf<T>, options: RequestOptions) =>
        this.request(from, peer, type, payload, options.timeoutMs),
    }
  }

  private request<T extends MessageType>(from: string, peer: string, type: T, payload: RequestOf<T>, timeoutMs: number): Promise<ResponseOf<T>> {
    const handler = this.handlers.get(peer)
    if (handler === undefined) return Promise.reject(new SimUnknownPeerError(peer))
    const exchange: Exchange = {
      id: ++this.messageId,
      from,
      peer,
      type,
      timeoutMs,
      operation: this.options.operations.getStore(),
      key: keyOf(payload),
      answered: false,
    }
    this.stats.requests++
    const bytes = pack(type, payload)
    return new Promise<ResponseOf<T>>((resolve, reject) => {
      const timer = this.options.scheduler.schedule(timeoutMs, () => {
        if (exchange.answered) return
        exchange.answered = true
        this.stats.timeouts++
        this.log(exchange, 'timeout')
        reject(new SimTimeoutError(peer, type, timeoutMs))
      })
      const answer = (response: Uint8Array): void => {
        if (exchange.answered) {
          this.stats.lateRepliesIgnored++
          this.log(exchange, 'reply ignored (late or duplicate)')
          return
        }
        exchange.answered = true
        timer.cancel()
        this.log(exchange, 'reply')
        resolve(unpack(response) as ResponseOf<T>)
      }
      const copies = this.chance(this.faults.duplicateProbability) ? 2 : 1
      if (copies === 2) {
        this.stats.duplicated++
        this.log(exchange, 'duplicated')
      }
      for (let copy = 0; copy < copies; copy++) {
        this.send(exchange, 'request', () => this.deliver(exchange, handler, bytes, answer))
      }
    })
  }

  private deliver(exchange: Exchange, handler: RequestHandler, bytes: Uint8Array, answer: (response: Uint8Array) => void): void {
    this.stats.delivered++
    this.log(exchange, 'deliver')
    const handle = (): Promise<unknown> => {
      try {
        return handler(exchange.type, parseRequest(exchange.type, unpack(bytes)))
      } catch (error) {
        return Promise.resolve(failure(error))
      }
    }
    const handled = exchange.operation === undefined ? handle() : this.options.operations.run(exchange.operation, handle)
    handled.then(
      (response) => {
        const encoded = pack('reply', response)
        this.send(exchange, 'reply', () => answer(encoded))
      },
      (error: unknown) => this.options.onCrash(exchange.peer, error),
    )
  }

  /** Schedules one leg, or loses it. */
  private send(exchange: Exchange, leg: 'request' | 'reply', arrive: () => void): void {
    if (this.chance(this.faults.dropProbability)) {
      this.stats.dropped++
      this.log(exchange, `${leg} dropped`)
      return
    }
    this.options.scheduler.schedule(this.delayMs(exchange), arrive)
  }

  private delayMs(exchange: Exchange): number {
    const {delayMsMin, delayMsMax, longDelayProbability} = this.faults
    if (this.chance(longDelayProbability)) {
      this.stats.delayedLong++
      this.log(exchange, 'delayed beyond its timeout')
      return exchange.timeoutMs + 1 + randomInt(this.options.random, exchange.timeoutMs)
    }
    return delayMsMin + randomInt(this.options.random, delayMsMax - delayMsMin + 1)
  }

  private chance(probability: number): boolean {
    return probability > 0 && randomFloat(this.options.random) < probability
  }

  private log(exchange: Exchange, what: string): void {
    const op = exchange.operation === undefined ? '' : ` op${exchange.operation}`
    const key = exchange.key === undefined ? '' : ` key=${exchange.key}`
    this.options.trace.record(`msg#${exchange.id} ${exchange.from}->${exchange.peer} ${exchange.type}${key}${op}: ${what}`)
  }
}

function keyOf(payload: unknown): string | undefined {
  const key = (payload as {key?: unknown}).key
  return key instanceof Uint8Array ? Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8') : undefined
}
