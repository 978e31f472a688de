// The simulated ports: virtual time orders events, the network delivers, loses and
// duplicates as configured and times out in virtual time, the store copies bytes.
import {AsyncLocalStorage} from 'node:async_hooks'
import {describe, expect, it} from 'vitest'
import {DynError} from '../../src/core/errors.js'
import type {ReplicaGetResponse} from '../../src/core/protocol.js'
import {SeededRandom} from '../../src/core/random.js'
import {MemoryObjectStore, Scheduler, SimNetwork, Trace, type NetworkFaults, type RequestHandler} from '../../src/sim/index.js'

const quiet: NetworkFaults = {dropProbability: 0, duplicateProbability: 0, longDelayProbability: 0, delayMsMin: 5, delayMsMax: 5}

function network(faults: NetworkFaults) {
  const scheduler = new Scheduler()
  const crashes: unknown[] = []
  const net = new SimNetwork({
    scheduler,
    random: new SeededRandom(1),
    trace: new Trace(scheduler),
    faults,
    operations: new AsyncLocalStorage<number>(),
    onCrash: (_endpoint, error) => crashes.push(error),
  })
  let handled = 0
  const handler = (async () => {
    handled++
    return {ok: true, object: new Uint8Array([handled])}
  }) as RequestHandler
  net.register('n2', handler)
  return {scheduler, net, crashes, handled: () => handled}
}

describe('Scheduler', () => {
  it('runs events by time, then by insertion, and skips cancelled ones', async () => {
    const scheduler = new Scheduler()
    const seen: string[] = []
    scheduler.schedule(10, () => seen.push(`b@${scheduler.nowMs()}`))
    scheduler.schedule(5, () => seen.push(`a@${scheduler.nowMs()}`))
    scheduler.schedule(10, () => seen.push(`c@${scheduler.nowMs()}`))
    scheduler.schedule(7, () => seen.push('cancelled')).cancel()
    expect(await scheduler.runUntilIdle({eventsMax: 100})).toBe(true)
    expect(seen).toEqual(['a@5', 'b@10', 'c@10'])
  })

  it('stops at the event limit', async () => {
    const scheduler = new Scheduler()
    const again = (): void => void scheduler.schedule(1, again)
    again()
    expect(await scheduler.runUntilIdle({eventsMax: 50})).toBe(false)
    expect(scheduler.executed).toBe(50)
  })
})

describe('SimNetwork', () => {
  const request = {partition: 0, key: new Uint8Array([107])}

  it('delivers a request and its reply after the delays, as a copy', async () => {
    const {scheduler, net} = network(quiet)
    let response: ReplicaGetResponse | undefined
    void net.transport('n1').request('n2', 'replica.get', request, {timeoutMs: 100}).then((r) => (response = r))
    await scheduler.runUntilIdle({eventsMax: 100})
    expect(response?.ok).toBe(true)
    expect([...((response as {object: Uint8Array}).object)]).toEqual([1])
    expect(scheduler.nowMs()).toBe(10)
  })

  it('rejects with TIMEOUT at now + timeoutMs when a message is lost', async () => {
    const {scheduler, net, handled} = network({...quiet, dropProbability: 1})
    let error: unknown
    void net.transport('n1').request('n2', 'replica.get', request, {timeoutMs: 100}).catch((e: unknown) => (error = e))
    await scheduler.runUntilIdle({eventsMax: 100})
    expect(error).toBeInstanceOf(DynError)
    expect((error as DynError).code).toBe('TIMEOUT')
    expect(scheduler.nowMs()).toBe(100)
    expect(handled()).toBe(0)
  })

  it('delivers a duplicated request twice and answers once', async () => {
    const {scheduler, net, handled} = network({...quiet, duplicateProbability: 1})
    const responses: unknown[] = []
    void net.transport('n1').request('n2', 'replica.get', request, {timeoutMs: 100}).then((r) => responses.push(r))
    await scheduler.runUntilIdle({eventsMax: 100})
    expect(handled()).toBe(2)
    expect(responses).toHaveLength(1)
    expect(net.stats.lateRepliesIgnored).toBe(1)
  })

  it('refuses an unknown peer with CONNECT_FAILED', async () => {
    const {net} = network(quiet)
    await expect(net.transport('n1').request('n9', 'replica.get', request, {timeoutMs: 100})).rejects.toMatchObject({code: 'CONNECT_FAILED'})
  })

  it('answers a malformed request with BAD_REQUEST, as the daemon does', async () => {
    const {scheduler, net} = network(quiet)
    let response: ReplicaGetResponse | undefined
    void net.transport('n1').request('n2', 'replica.get', {partition: -1, key: request.key}, {timeoutMs: 100}).then((r) => (response = r))
    await scheduler.runUntilIdle({eventsMax: 100})
    expect(response).toMatchObject({ok: false, error: {code: 'BAD_REQUEST'}})
  })
})

describe('MemoryObjectStore', () => {
  it('copies bytes in and out', async () => {
    const store = new MemoryObjectStore({scheduler: new Scheduler(), random: new SeededRandom(1), latencyMsMax: 0})
    const value = new Uint8Array([1, 2, 3])
    await store.put(3, new Uint8Array([9]), value)
    value[0] = 99
    const read = await store.get(3, new Uint8Array([9]))
    expect(read).toEqual(new Uint8Array([1, 2, 3]))
    read![1] = 77
    expect(await store.get(3, new Uint8Array([9]))).toEqual(new Uint8Array([1, 2, 3]))
    expect(await store.get(4, new Uint8Array([9]))).toBeUndefined()
    expect(store.list()).toHaveLength(1)
  })
})

describe('MemoryObjectStore durability', () => {
  const key = new Uint8Array([1])
  const value = new Uint8Array([2])
  const store = (sync: 'always' | 'none') =>
    new MemoryObjectStore({scheduler: new Scheduler(), random: new SeededRandom(1), latencyMsMax: 0, sync: {kind: sync}})

  it('keeps what was put under sync always across a crash', async () => {
    const disk = store('always')
    await disk.put(0, key, value)
    expect(disk.crash().after).toHaveLength(1)
    expect(await disk.get(0, key)).toEqual(value)
  })

  it('loses what was put since the last sync under sync none, and keeps what was synced', async () => {
    const disk = store('none')
    await disk.put(0, key, value)
    expect(disk.unsynced).toBe(1)
    const lost = disk.crash()
    expect(lost.before).toHaveLength(1)
    expect(lost.after).toHaveLength(0)
    await disk.put(0, key, value)
    disk.flush()
    await disk.delete(0, key)
    disk.crash()
    expect(await disk.get(0, key)).toEqual(value)
  })

  it('never finishes an operation that was under way when the node crashed', async () => {
    const scheduler = new Scheduler()
    const disk = new MemoryObjectStore({scheduler, random: new SeededRandom(3), latencyMsMax: 5, sync: {kind: 'always'}})
    let settled = false
    void disk.put(0, key, value).finally(() => (settled = true))
    disk.crash()
    await scheduler.runUntilIdle({eventsMax: 100})
    expect(settled).toBe(false)
    expect(disk.list()).toHaveLength(0)
  })
})

describe('SimNetwork crashes and partitions', () => {
  const request = {partition: 0, key: new Uint8Array([107])}

  it('drops both directions across a partition, so the caller times out', async () => {
    const {scheduler, net, handled} = network(quiet)
    net.partition(['n1'])
    const errors: unknown[] = []
    void net.transport('n1').request('n2', 'replica.get', request, {timeoutMs: 100}).catch((e: unknown) => errors.push(e))
    await scheduler.runUntilIdle({eventsMax: 100})
    expect(handled()).toBe(0)
    expect(errors).toEqual([expect.objectContaining({code: 'TIMEOUT'})])
    expect(net.stats.partitioned).toBe(1)
    net.healPartition()
    void net.transport('n1').request('n2', 'replica.get', request, {timeoutMs: 100})
    await scheduler.runUntilIdle({eventsMax: 100})
    expect(handled()).toBe(1)
  })

  it('refuses requests to a down node and loses what was in flight to it', async () => {
    const {scheduler, net, handled} = network(quiet)
    const outcomes: unknown[] = []
    void net.transport('n1').request('n2', 'replica.get', request, {timeoutMs: 100}).catch((e: unknown) => outcomes.push(e))
    net.down('n2')
    void net.transport('n1').request('n2', 'replica.get', request, {timeoutMs: 100}).catch((e: unknown) => outcomes.push(e))
    await scheduler.runUntilIdle({eventsMax: 100})
    expect(handled()).toBe(0)
    expect(outcomes.map((error) => (error as DynError).code).sort()).toEqual(['CONNECT_FAILED', 'TIMEOUT'])
    expect(net.stats.lostToCrashes).toBe(1)
  })

  it('never settles a request of a crashed incarnation', async () => {
    const {scheduler, net} = network({...quiet, dropProbability: 1})
    net.register('n1', (async () => ({ok: true})) as RequestHandler)
    const transport = net.transport('n1')
    let settled = false
    void transport.request('n2', 'replica.get', request, {timeoutMs: 100}).finally(() => (settled = true))
    net.down('n1')
    await scheduler.runUntilIdle({eventsMax: 100})
    expect(settled).toBe(false)
  })
})
