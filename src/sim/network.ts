// The simulated network: every request between simulated endpoints (nodes and clients) goes
// through one SimNetwork, which delays, drops, duplicates and reorders it as the run's fault
// settings and random stream say (the faults Jepsen and TigerBeetle's VOPR inject). Payloads
// travel as MessagePack bytes encoded the way the wire protocol encodes them, and every
// request is checked with parseRequest as the daemon does, so nodes never share a mutable
// object and a payload that would not survive the wire fails here too.
//
// Crashes and partitions (Jepsen's nemeses): an endpoint goes down with its node and comes
// back as a new incarnation. A request to a down endpoint is refused (CONNECT_FAILED, as a
// host refuses a connection to a dead process); whatever was in flight to an incarnation
// is lost with it, and a dead incarnation's own requests never settle, so the discarded
// node never acts again. A partition splits the endpoints into two sides; every leg that
// would cross it, in either direction, is dropped, at sending and at arrival.
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
  /** Legs dropped because they would cross a partition. */
  partitioned: number
  /** Legs lost because their endpoint crashed, and requests refused by a down endpoint. */
  lostToCrashes: number
  refused: number
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

export class SimConnectFailedError extends DynError {
  constructor(peer: string) {
    super(`cannot connect to ${peer}: the node is down`, {
      code: 'CONNECT_FAILED',
      suggestion: 'start the node again',
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
  /** Called with every request a node starts to handle on behalf of a client operation. */
  readonly onHandle?: (endpoint: string, operation: number, type: MessageType, request: unknown) => void
}

interface Exchange {
  readonly id: number
  readonly from: string
  readonly fromIncarnation: number
  readonly peer: string
  readonly peerIncarnation: number
  readonly type: MessageType
  readonly timeoutMs: number
  readonly operation: number | undefined
  /** The key the request is about, for trace excerpts. */
  readonly key: string | undefined
  answered: boolean
}

export class SimNetwork {
  readonly stats: NetworkStats = {
    requests: 0,
    delivered: 0,
    dropped: 0,
    partitioned: 0,
    lostToCrashes: 0,
    refused: 0,
    duplicated: 0,
    delayedLong: 0,
    timeouts: 0,
    lateRepliesIgnored: 0,
  }
  private readonly handlers = new Map<string, RequestHandler>()
  /** Incarnation of every endpoint ever registered; bumped when it goes down. */
  private readonly incarnations = new Map<string, number>()
  /** One side of the current partition (the rest is the other side), if any. */
  private side: ReadonlySet<string> | undefined
  private faults: NetworkFaults
  private messageId = 0

  constructor(private readonly options: SimNetworkOptions) {
    this.faults = options.faults
  }

  /** Serves `name` (a new incarnation of it, after a crash) with `handler`. */
  register(name: string, handler: RequestHandler): void {
    assert(!this.handlers.has(name), `endpoint ${name} is up once`)
    this.handlers.set(name, handler)
    this.incarnations.set(name, this.incarnation(name))
  }

  /** The endpoint crashed: everything in flight to or from this incarnation is lost. */
  down(name: string): void {
    assert(this.handlers.delete(name), `endpoint ${name} is up before it goes down`)
    this.incarnations.set(name, this.incarnation(name) + 1)
    this.options.trace.record(`${name} down`)
  }

  isUp(name: string): boolean {
    return this.handlers.has(name)
  }

  /** Splits the network: endpoints in `side` and the others stop hearing each other. */
  partition(side: readonly string[]): void {
    this.side = new Set(side)
    this.options.trace.record(`network partitioned: {${[...side].join(',')}} | the rest`)
  }

  healPartition(): void {
    if (this.side === undefined) return
    this.side = undefined
    this.options.trace.record('partition healed')
  }

  get partitioned(): boolean {
    return this.side !== undefined
  }

  /** From now on no message is lost, duplicated or held beyond its timeout, and no partition holds. */
  heal(): void {
    this.faults = {...this.faults, dropProbability: 0, duplicateProbability: 0, longDelayProbability: 0}
    this.healPartition()
    this.options.trace.record('network healed: no more faults')
  }

  /** The Transport port of one endpoint: of its current incarnation, for a node. */
  transport(from: string): Transport {
    const incarnation = this.incarnation(from)
    return {
      request: <T extends MessageType>(peer: string, type: T, payload: RequestOf<T>, options: RequestOptions) =>
        this.request({from, incarnation}, peer, type, payload, options.timeoutMs),
    }
  }

  private incarnation(name: string): number {
    return this.incarnations.get(name) ?? 0
  }

  private alive(name: string, incarnation: number): boolean {
    return this.incarnation(name) === incarnation
  }

  private crossesPartition(a: string, b: string): boolean {
    return this.side !== undefined && this.side.has(a) !== this.side.has(b)
  }

  private request<T extends MessageType>(
    sender: {from: string; incarnation: number},
    peer: string,
    type: T,
    payload: RequestOf<T>,
    timeoutMs: number,
  ): Promise<ResponseOf<T>> {
    const {from} = sender
    // A dead incarnation sends nothing and hears nothing: its node was discarded.
    if (!this.alive(from, sender.incarnation)) return new Promise<ResponseOf<T>>(() => undefined)
    if (!this.incarnations.has(peer)) return Promise.reject(new SimUnknownPeerError(peer))
    const exchange: Exchange = {
      id: ++this.messageId,
      from,
      fromIncarnation: sender.incarnation,
      peer,
      peerIncarnation: this.incarnation(peer),
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
        if (exchange.answered || !this.alive(from, exchange.fromIncarnation)) return
        exchange.answered = true
        this.stats.timeouts++
        this.log(exchange, 'timeout')
        reject(new SimTimeoutError(peer, type, timeoutMs))
      })
      const answer = (response: Uint8Array): void => {
        if (!this.alive(from, exchange.fromIncarnation) || this.lostAtArrival(exchange, 'reply')) return
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
      if (!this.isUp(peer)) {
        this.refuse(exchange, reject)
        return
      }
      const copies = this.chance(this.faults.duplicateProbability) ? 2 : 1
      if (copies === 2) {
        this.stats.duplicated++
        this.log(exchange, 'duplicated')
      }
      for (let copy = 0; copy < copies; copy++) {
        this.send(exchange, 'request', () => this.deliver(exchange, bytes, answer))
      }
    })
  }

  /** A down endpoint refuses the connection: the caller learns it after one leg's delay,
   * unless a partition or a loss hides the refusal, and then it times out. */
  private refuse(exchange: Exchange, reject: (error: unknown) => void): void {
    this.send(exchange, 'reply', () => {
      if (exchange.answered || !this.alive(exchange.from, exchange.fromIncarnation)) return
      exchange.answered = true
      this.stats.refused++
      this.log(exchange, 'refused: the node is down')
      reject(new SimConnectFailedError(exchange.peer))
    })
  }

  /** Whether a leg arriving now is lost: to a partition, or because its receiver crashed. */
  private lostAtArrival(exchange: Exchange, leg: 'request' | 'reply'): boolean {
    if (this.crossesPartition(exchange.from, exchange.peer)) {
      this.stats.partitioned++
      this.log(exchange, `${leg} lost to the partition`)
      return true
    }
    if (leg === 'request' && !this.alive(exchange.peer, exchange.peerIncarnation)) {
      this.stats.lostToCrashes++
      this.log(exchange, 'request lost: its receiver crashed')
      return true
    }
    return false
  }

  private deliver(exchange: Exchange, bytes: Uint8Array, answer: (response: Uint8Array) => void): void {
    if (this.lostAtArrival(exchange, 'request')) return
    const handler = this.handlers.get(exchange.peer)
    assert(handler !== undefined, 'a live incarnation has a handler')
    this.stats.delivered++
    this.log(exchange, 'deliver')
    const handle = (): Promise<unknown> => {
      try {
        const request = parseRequest(exchange.type, unpack(bytes))
        if (exchange.operation !== undefined) this.options.onHandle?.(exchange.peer, exchange.operation, exchange.type, request)
        return handler(exchange.type, request)
      } catch (error) {
        return Promise.resolve(failure(error))
      }
    }
    const handled = exchange.operation === undefined ? handle() : this.options.operations.run(exchange.operation, handle)
    handled.then(
      (response) => {
        // A reply computed by an incarnation that crashed meanwhile is never sent.
        if (!this.alive(exchange.peer, exchange.peerIncarnation)) {
          this.stats.lostToCrashes++
          return
        }
        const encoded = pack('reply', response)
        this.send(exchange, 'reply', () => answer(encoded))
      },
      (error: unknown) => {
        if (this.alive(exchange.peer, exchange.peerIncarnation)) this.options.onCrash(exchange.peer, error)
      },
    )
  }

  /** Schedules one leg, or loses it. */
  private send(exchange: Exchange, leg: 'request' | 'reply', arrive: () => void): void {
    if (this.crossesPartition(exchange.from, exchange.peer)) {
      this.stats.partitioned++
      this.log(exchange, `${leg} lost to the partition`)
      return
    }
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
