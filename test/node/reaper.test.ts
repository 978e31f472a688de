// Tombstone reaping (src/node/reaper.ts) on an in-memory cluster of four nodes with N=3, so
// every partition has one node that is not a primary (a possible fallback). The clock moves
// only when the test moves it; the reaper is ticked directly. A restarted node's monotonic
// clock starts again at 0, as a process's does; the wall clock goes on.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {applyPut, decodeObject} from '../../src/core/causality.js'
import {DynError} from '../../src/core/errors.js'
import {partitionOfKey} from '../../src/core/hash.js'
import {rootsEqual} from '../../src/core/merkle.js'
import {parseRequest, type MessageType, type RequestOf, type ResponseOf} from '../../src/core/protocol.js'
import {SeededRandom} from '../../src/core/random.js'
import {preferenceList} from '../../src/core/ring.js'
import {encodeHintKey, hintsPartition} from '../../src/node/hints.js'
import {Node, type NodeConfig} from '../../src/node/node.js'
import type {Clock, Transport} from '../../src/node/ports.js'
import {MapStore, bytes, text} from './harness.js'
import {MemoryMetaStore} from '../../src/sim/memory-store.js'

const partitionCount = 8
const graceMs = 10_000
/** Tombstone times are saved this often (reaperDefaults.persistIntervalMs is a minute). */
const persistIntervalMs = 1_000
/** The wall clock at nowMs 0. */
const wallOriginMs = Date.UTC(2026, 0, 1)

type Hook = (from: string, to: string, type: MessageType, payload: unknown) => Promise<void>

class ReapCluster {
  readonly names = ['n1', 'n2', 'n3', 'n4']
  readonly nodes = new Map<string, Node>()
  readonly stores = new Map<string, MapStore>()
  readonly metas = new Map<string, MemoryMetaStore>()
  readonly down = new Set<string>()
  /** Links that drop requests, as "from>to". */
  readonly cut = new Set<string>()
  readonly errors: unknown[] = []
  beforeDeliver: Hook | undefined = undefined
  nowMs = 0
  /** Added to the wall clock (a clock set back or forward). */
  wallShiftMs = 0

  constructor() {
    for (const name of this.names) {
      this.stores.set(name, new MapStore())
      this.metas.set(name, new MemoryMetaStore())
      this.nodes.set(name, this.createNode(name, this.clockFrom(0)))
    }
  }

  /** A new process on the node's store and meta documents, started now. */
  async restart(name: string): Promise<Node> {
    const node = this.createNode(name, this.clockFrom(this.nowMs))
    this.nodes.set(name, node)
    await node.start()
    return node
  }

  private clockFrom(startMs: number): Clock {
    return {nowMs: () => this.nowMs - startMs, wallMs: () => wallOriginMs + this.nowMs + this.wallShiftMs}
  }

  private createNode(name: string, clock: Clock): Node {
    const i = this.names.indexOf(name)
    const members = this.names.map((member, index) => ({name: member, address: `127.0.0.1:${7001 + index}`}))
    const config: NodeConfig = {name, cluster: 'test', n: 3, r: 2, w: 2, requestTimeoutMs: 100, valueBytesMax: 1024 * 1024}
    const ports = {transport: this.transportFor(name), store: this.stores.get(name)!, meta: this.metas.get(name)!, clock, random: new SeededRandom(i + 1)}
    return new Node({config, members, partitionCount, ports, reaper: {graceMs, intervalMs: 0, retryMs: 0, persistIntervalMs}, onError: (error) => this.errors.push(error)})
  }

  async start(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.start()))
  }

  node(name: string): Node {
    return this.nodes.get(name)!
  }

  async idle(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.idle()))
  }

  /** One reaper tick on every node, then waits for the rounds to finish. */
  async reap(): Promise<void> {
    for (const node of this.nodes.values()) node.reaper.tick()
    await this.idle()
  }

  holds(name: string, partition: number, key: Uint8Array): boolean {
    return this.stores.get(name)!.data.has(`${partition}/${Buffer.from(key).toString('hex')}`)
  }

  private transportFor(from: string): Transport {
    return {
      request: async <T extends MessageType>(to: string, type: T, payload: RequestOf<T>): Promise<ResponseOf<T>> => {
        await Promise.resolve()
        await this.beforeDeliver?.(from, to, type, payload)
        if (this.down.has(to) || this.down.has(from) || this.cut.has(`${from}>${to}`)) throw new DynError(`cannot reach ${to}`, {code: 'CONNECT_FAILED'})
        return this.node(to).handle(type, parseRequest(type, payload))
      },
    }
  }
}

interface Placement {
  readonly key: Uint8Array
  readonly partition: number
  /** primaries[0] reaps. */
  readonly primaries: readonly string[]
  readonly other: string
}

function placement(cluster: ReapCluster, name: string): Placement {
  const key = bytes(name)
  const partition = partitionOfKey(key, partitionCount)
  const primaries = preferenceList(cluster.node('n1').view.ring, {partition}, {n: 3}).primaries
  const other = cluster.names.find((node) => !primaries.includes(node))!
  return {key, partition, primaries, other}
}

async function put(node: Node, key: Uint8Array, value: string, options: {context?: string; w?: number} = {}): Promise<string> {
  const response = await node.handle('kv.put', {key, value: bytes(value), ...options})
  if (!response.ok) throw new Error(`put: ${response.error.message}`)
  return response.context
}

async function remove(node: Node, key: Uint8Array, w = 3): Promise<void> {
  const response = await node.handle('kv.delete', {key, w})
  if (!response.ok) throw new Error(`delete: ${response.error.message}`)
}

async function read(node: Node, key: Uint8Array, r = 3): Promise<{found: boolean; values: string[]; context: string}> {
  const response = await node.handle('kv.get', {key, r})
  if (!response.ok) throw new Error(`get: ${response.error.message}`)
  return {found: response.found, values: response.siblings.map((sibling) => text(sibling.value)).sort(), context: response.context}
}

/** A cluster with `name` written and deleted on all three primaries. */
async function deleted(name: string): Promise<{cluster: ReapCluster; at: Placement}> {
  const cluster = new ReapCluster()
  await cluster.start()
  const at = placement(cluster, name)
  const coordinator = cluster.node(at.primaries[0]!)
  await put(coordinator, at.key, 'old')
  await remove(coordinator, at.key)
  await cluster.idle()
  for (const node of at.primaries) expect(cluster.holds(node, at.partition, at.key)).toBe(true)
  return {cluster, at}
}

function primariesHold(cluster: ReapCluster, at: Placement): boolean[] {
  return at.primaries.map((node) => cluster.holds(node, at.partition, at.key))
}

function treesEqual(cluster: ReapCluster, at: Placement): boolean {
  const [a, ...rest] = at.primaries.map((node) => cluster.node(node).objects.tree(at.partition))
  return rest.every((tree) => rootsEqual(a!, tree))
}

describe('tombstone reaping', () => {
  it('reaps a deleted key on every primary once the grace period has passed, and not before', async () => {
    const {cluster, at} = await deleted('gone')
    cluster.nowMs = graceMs - 1
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([true, true, true])

    cluster.nowMs = graceMs
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([false, false, false])
    expect(cluster.node(at.primaries[0]!).reaper.stats.keysReaped).toBe(1)
    // Only the first primary runs rounds.
    for (const node of cluster.names.filter((name) => name !== at.primaries[0])) expect(cluster.node(node).reaper.stats.rounds).toBe(0)
    expect(treesEqual(cluster, at)).toBe(true)
    expect(cluster.node(at.primaries[0]!).objects.keyCount(at.partition)).toBe(0)
    const exchange = await cluster.node(at.primaries[0]!).antiEntropy.exchange(at.partition, at.primaries[1]!)
    expect(exchange.branchesDiffering).toBe(0)

    expect(await read(cluster.node(at.primaries[1]!), at.key)).toMatchObject({found: false, values: []})
    await put(cluster.node(at.primaries[1]!), at.key, 'again')
    expect(await read(cluster.node(at.primaries[2]!), at.key)).toMatchObject({found: true, values: ['again']})
    expect(cluster.errors).toEqual([])
  })

  /** A key deleted on every primary, with half its grace period gone (and seen by reaper
   * rounds at its start and at half-time). */
  async function deletedHalfwayToReaping() {
    const {cluster, at} = await deleted('gone')
    const [first, second] = at.primaries as [string, string]
    await cluster.reap()
    cluster.nowMs = graceMs / 2
    await cluster.reap()
    return {cluster, at, first, second}
  }

  it('reaps on time a tombstone first seen before its primaries restarted, counting the downtime', async () => {
    const {cluster, at, first, second} = await deletedHalfwayToReaping()
    // Down for a quarter of the grace period, then up again: a new process, whose
    // monotonic clock starts at 0. The first primary restarts at once.
    cluster.down.add(second)
    cluster.nowMs = (3 * graceMs) / 4
    cluster.down.delete(second)
    for (const name of [first, second]) await cluster.restart(name)
    cluster.nowMs = graceMs - 1
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([true, true, true])
    cluster.nowMs = graceMs
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([false, false, false])
    expect(cluster.node(first).reaper.stats.keysReaped).toBe(1)
    expect(cluster.errors).toEqual([])
  })

  it('restores no time for a version that changed, and counts downtime as none when the wall clock went back', async () => {
    const {cluster, at, first, second} = await deletedHalfwayToReaping()
    // A newer tombstone reaches the second primary after its last save: its grace starts again.
    const tombstone = decodeObject((await cluster.stores.get(second)!.get(at.partition, at.key))!)
    const newer = applyPut(tombstone, {coordinator: 'n9', context: tombstone.vv, write: {kind: 'tombstone'}}).object
    await cluster.node(second).objects.update(at.partition, at.key, () => newer)
    cluster.nowMs = (3 * graceMs) / 4
    await cluster.restart(second)
    expect(cluster.node(second).objects.tombstone(at.partition, at.key)!.sinceMs).toBe(0)
    // The first primary is down for a quarter of the grace period while its wall clock
    // goes back an hour: that downtime counts as none.
    cluster.down.add(first)
    cluster.wallShiftMs = -3_600_000
    cluster.nowMs = graceMs
    cluster.down.delete(first)
    const restarted = await cluster.restart(first)
    expect(restarted.objects.tombstone(at.partition, at.key)!.sinceMs).toBe(-graceMs / 2)
  })

  it('does not reap a live key', async () => {
    const cluster = new ReapCluster()
    await cluster.start()
    const at = placement(cluster, 'alive')
    await put(cluster.node(at.primaries[0]!), at.key, 'value', {w: 3})
    cluster.nowMs = 10 * graceMs
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([true, true, true])
    expect(cluster.node(at.primaries[0]!).reaper.stats.rounds).toBe(0)
  })

  it('does not reap while any member, primary or not, cannot be asked', async () => {
    const {cluster, at} = await deleted('gone')
    cluster.nowMs = graceMs
    for (const unreachable of [at.primaries[2]!, at.other]) {
      cluster.down.add(unreachable)
      await cluster.reap()
      cluster.down.delete(unreachable)
      expect(primariesHold(cluster, at)).toEqual([true, true, true])
    }
    expect(cluster.node(at.primaries[0]!).reaper.stats.failures).toBe(2)
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([false, false, false])
  })

  it('does not reap while a fallback holds a hinted copy, and does once the hint is delivered', async () => {
    const {cluster, at} = await deleted('gone')
    const tombstone = (await cluster.stores.get(at.primaries[0]!)!.get(at.partition, at.key))!
    // The fallback took the delete for the third primary (sloppy quorum).
    const hinted = await cluster.node(at.other).handle('replica.put', {partition: at.partition, key: at.key, object: tombstone, hintFor: at.primaries[2]!})
    expect(hinted.ok).toBe(true)
    cluster.nowMs = graceMs
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([true, true, true])
    expect(cluster.node(at.primaries[0]!).reaper.stats.keysRefused).toBe(1)

    await cluster.node(at.other).hints.deliverRound()
    expect(cluster.holds(at.other, at.partition, at.key)).toBe(false)
    expect(cluster.stores.get(at.other)!.objectCount()).toBe(0)
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([false, false, false])
  })

  it('does not reap while a hint for the key is recorded anywhere, even without a copy there', async () => {
    const {cluster, at} = await deleted('gone')
    await cluster.stores.get(at.primaries[1]!)!.put(hintsPartition, encodeHintKey({target: at.other, partition: at.partition, key: at.key}), new Uint8Array(0))
    cluster.nowMs = graceMs
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([true, true, true])
  })

  it('does not reap while a node that is not a primary holds a copy without a hint', async () => {
    const {cluster, at} = await deleted('gone')
    // A copy left behind (a handoff or a hint delivery cut short after forgetting the hint).
    const tombstone = decodeObject((await cluster.stores.get(at.primaries[0]!)!.get(at.partition, at.key))!)
    await cluster.node(at.other).objects.update(at.partition, at.key, () => tombstone)
    cluster.nowMs = graceMs
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([true, true, true])
    await cluster.node(at.other).objects.exclusive(at.partition, at.key, async (_current, removeCopy) => removeCopy())
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([false, false, false])
  })

  it('does not reap while a node hands the partition off, even when it no longer holds the key', async () => {
    const {cluster, at} = await deleted('gone')
    let neighbour = 0
    while (partitionOfKey(bytes(`other-${neighbour}`), partitionCount) !== at.partition) neighbour++
    const tombstone = decodeObject((await cluster.stores.get(at.primaries[0]!)!.get(at.partition, at.key))!)
    await cluster.node(at.other).objects.update(at.partition, bytes(`other-${neighbour}`), () => tombstone)
    cluster.node(at.other).handoff.plan()
    expect(cluster.node(at.other).handoff.pending).toBe(1)
    cluster.nowMs = graceMs
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([true, true, true])
  })

  it('does not reap while the primaries hold different tombstones', async () => {
    const {cluster, at} = await deleted('gone')
    const third = at.primaries[2]!
    const tombstone = decodeObject((await cluster.stores.get(third)!.get(at.partition, at.key))!)
    // A concurrent delete only the third primary has seen: tombstones only, another digest.
    const concurrent = applyPut(tombstone, {coordinator: 'n9', context: [], write: {kind: 'tombstone'}}).object
    await cluster.node(third).objects.update(at.partition, at.key, () => concurrent)
    cluster.nowMs = graceMs
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([true, true, true])
  })

  it('does not reap while a replica holds another version, nor until it has held the tombstone for the grace period', async () => {
    const {cluster, at} = await deleted('gone')
    const [first, , third] = at.primaries as [string, string, string]
    // The third primary missed the delete: it still holds the value the delete covered.
    const before = new ReapCluster()
    await before.start()
    await put(before.node(first), at.key, 'old', {w: 3})
    const oldCopy = decodeObject((await before.stores.get(first)!.get(at.partition, at.key))!)
    await cluster.stores.get(third)!.delete(at.partition, at.key)
    await cluster.node(third).objects.load([at.partition])
    await cluster.node(third).objects.update(at.partition, at.key, () => oldCopy)

    cluster.nowMs = graceMs
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([true, true, true])

    // Anti-entropy brings the tombstone over; the third primary's grace starts now.
    await cluster.node(first).antiEntropy.exchange(at.partition, third)
    expect(treesEqual(cluster, at)).toBe(true)
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([true, true, true])
    cluster.nowMs = 2 * graceMs
    await cluster.reap()
    expect(primariesHold(cluster, at)).toEqual([false, false, false])
    expect(await read(cluster.node(first), at.key)).toMatchObject({found: false})
  })

  it('keeps a write that races the delete phase, and spreads it', async () => {
    const {cluster, at} = await deleted('gone')
    const [first, second, third] = at.primaries as [string, string, string]
    const {context} = await read(cluster.node(first), at.key)
    let raced = false
    cluster.beforeDeliver = async (_from, to, type, payload) => {
      if (raced || type !== 'replica.reap' || to !== second || (payload as {phase: string}).phase !== 'delete') return
      raced = true
      // The write reaches only the second primary before its delete does.
      cluster.cut.add(`${second}>${first}`).add(`${second}>${third}`)
      await put(cluster.node(second), at.key, 'new', {context, w: 1})
      await cluster.node(second).idle()
      cluster.cut.clear()
    }
    cluster.nowMs = graceMs
    await cluster.reap()
    expect(raced).toBe(true)
    expect(primariesHold(cluster, at)).toEqual([false, true, false])

    await cluster.node(first).antiEntropy.exchange(at.partition, second)
    await cluster.node(third).antiEntropy.exchange(at.partition, second)
    expect(await read(cluster.node(third), at.key)).toMatchObject({found: true, values: ['new']})
    expect(treesEqual(cluster, at)).toBe(true)
  })

  it('refuses a delete whose digest no longer matches, and malformed requests', async () => {
    const {cluster, at} = await deleted('gone')
    const node = cluster.node(at.primaries[1]!)
    const wrong = await node.handle('replica.reap', {partition: at.partition, phase: 'delete', keys: [at.key], digests: [new Uint8Array(16)], primaries: at.primaries})
    expect(wrong).toEqual({ok: true, done: [false]})
    const otherView = await node.handle('replica.reap', {partition: at.partition, phase: 'check', keys: [at.key], digests: [node.objects.digest(at.partition, at.key)!], primaries: [...at.primaries].reverse()})
    expect(otherView).toEqual({ok: true, done: [false]})
    expect(cluster.holds(at.primaries[1]!, at.partition, at.key)).toBe(true)
    expect(() => parseRequest('replica.reap', {partition: 0, phase: 'drop', keys: [], digests: [], primaries: []})).toThrow(/phase/)
    expect(() => parseRequest('replica.reap', {partition: 0, phase: 'check', keys: [bytes('a')], digests: [], primaries: []})).toThrow(/differ in length/)
    const misplaced = await node.handle('replica.reap', {partition: (at.partition + 1) % partitionCount, phase: 'check', keys: [at.key], digests: [new Uint8Array(16)], primaries: at.primaries})
    expect(misplaced).toMatchObject({ok: false, error: {code: 'BAD_REQUEST'}})
  })

  it('never brings a deleted value back, whatever the order of deletes, writes, outages and reaping', async () => {
    type Step = {kind: 'put'; value: number} | {kind: 'delete'} | {kind: 'down'; node: number} | {kind: 'reap'; elapsedMs: number}
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({kind: fc.constant('put' as const), value: fc.nat(1_000)}),
      fc.record({kind: fc.constant('delete' as const)}),
      fc.record({kind: fc.constant('down' as const), node: fc.nat(3)}),
      fc.record({kind: fc.constant('reap' as const), elapsedMs: fc.constantFrom(0, graceMs / 2, graceMs)}),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(step, {maxLength: 12}), async (steps) => {
        const cluster = new ReapCluster()
        await cluster.start()
        const at = placement(cluster, 'k')
        const coordinator = cluster.node(at.primaries[0]!)
        // The reference: what the last acknowledged write left (undefined after a delete).
        let expected: string | undefined
        for (const each of steps) {
          if (each.kind === 'down') {
            const name = cluster.names[each.node]!
            if (name === at.primaries[0]) continue
            if (cluster.down.has(name)) cluster.down.delete(name)
            else cluster.down.add(name)
          } else if (each.kind === 'reap') {
            cluster.nowMs += each.elapsedMs
            await cluster.reap()
          } else {
            // Writes and deletes read first and use the context, so each supersedes the last.
            const {context} = await read(coordinator, at.key, 1)
            const response =
              each.kind === 'put'
                ? await coordinator.handle('kv.put', {key: at.key, value: bytes(String(each.value)), context, w: 1})
                : await coordinator.handle('kv.delete', {key: at.key, context, w: 1})
            await cluster.idle()
            if (response.ok) expected = each.kind === 'put' ? String(each.value) : undefined
          }
        }
        // Heal, deliver hints, repair, reap, repair again: the outcome is the reference's.
        cluster.down.clear()
        for (let round = 0; round < 2; round++) {
          for (const node of cluster.nodes.values()) await node.hints.deliverRound()
          for (const a of at.primaries) for (const b of at.primaries) if (a !== b) await cluster.node(a).antiEntropy.exchange(at.partition, b)
          cluster.nowMs += graceMs
          await cluster.reap()
        }
        const result = await read(coordinator, at.key)
        expect(result.values).toEqual(expected === undefined ? [] : [expected])
        expect(cluster.errors).toEqual([])
      }),
      {numRuns: 40},
    )
  })
})
