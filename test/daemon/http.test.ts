// The HTTP admin port of a running daemon, and its graceful close.
import {afterEach, describe, expect, it} from 'vitest'
import type {GetResponse} from '../../src/core/protocol.js'
import {latencyBucketsSeconds} from '../../src/daemon/index.js'
import {NetServer} from '../../src/net/index.js'
import {bytes, cluster, host, Tracker, within} from './helpers.js'

const tracker = new Tracker()
afterEach(async () => {
  await tracker.cleanup()
})

async function fetchText(url: string): Promise<{status: number; type: string; body: string}> {
  const response = await fetch(url)
  return {status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text()}
}

const sampleLine = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)$/
const commentLine = /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/

/** Checks every line of a Prometheus text exposition and returns the samples by series. */
function parseExposition(body: string): Map<string, number> {
  expect(body.endsWith('\n')).toBe(true)
  const samples = new Map<string, number>()
  for (const line of body.trimEnd().split('\n')) {
    if (line.startsWith('#')) {
      expect(line).toMatch(commentLine)
      continue
    }
    expect(line).toMatch(sampleLine)
    const space = line.lastIndexOf(' ')
    samples.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return samples
}

describe('the HTTP admin port', () => {
  it('answers /health, /status, /metrics and 404, and logs one timestamped line per event', async () => {
    const {daemons} = await tracker.startCluster(3)
    const daemon = daemons[0]
    if (daemon === undefined) throw new Error('no daemon')
    const base = `http://${daemon.addresses.http}`

    const health = await fetchText(`${base}/health`)
    expect(health.status).toBe(200)
    expect(JSON.parse(health.body)).toEqual({status: 'ok', name: 'n1'})

    const client = await tracker.client(daemon.addresses.wire)
    for (let index = 0; index < 5; index++) await client.request('kv.put', {key: bytes(`k${index}`), value: bytes('v')})
    await client.request('kv.get', {key: bytes('k0')})
    await client.request('kv.get', {key: bytes('k0'), r: 9})

    const status = await fetchText(`${base}/status`)
    expect(status.status).toBe(200)
    expect(status.type).toContain('application/json')
    const body = JSON.parse(status.body) as Record<string, unknown>
    expect(body).toMatchObject({
      version: 1,
      name: 'n1',
      cluster,
      state: 'serving',
      pid: process.pid,
      addresses: daemon.addresses,
      n: 3,
      r: 2,
      w: 2,
      partitions: 16,
      sync: 'none',
    })
    expect(body['uptimeMs']).toEqual(expect.any(Number))
    expect((body['members'] as unknown[]).length).toBe(3)
    expect(body['members']).toContainEqual(expect.objectContaining({name: 'n1', status: 'valid'}))
    expect(body['ringVersion']).toBe(1)
    expect((body['store'] as {keys: number}).keys).toBe(5)
    expect((body['connections'] as {incoming: number}).incoming).toBeGreaterThanOrEqual(1)
    expect(body).toMatchObject({
      health: {suspects: []},
      faults: {cut: []},
      hints: {pending: 0, delivered: 0},
      antiEntropy: {exchanges: expect.any(Number), keysRepaired: expect.any(Number), failures: expect.any(Number), queued: expect.any(Number)},
      handoffs: [],
      process: {rssBytes: expect.any(Number), heapUsedBytes: expect.any(Number), diskFreeBytes: expect.any(Number)},
    })

    const metrics = await fetchText(`${base}/metrics`)
    expect(metrics.status).toBe(200)
    expect(metrics.type).toContain('text/plain; version=0.0.4')
    const samples = parseExposition(metrics.body)
    expect(samples.get('dyn_requests_total{type="kv.put",outcome="ok"}')).toBe(5)
    expect(samples.get('dyn_requests_total{type="kv.get",outcome="ok"}')).toBe(1)
    expect(samples.get('dyn_requests_total{type="kv.get",outcome="QUORUM_INVALID"}')).toBe(1)
    expect(samples.get('dyn_request_duration_seconds_count{type="kv.put"}')).toBe(5)
    expect(samples.get('dyn_request_duration_seconds_bucket{type="kv.put",le="+Inf"}')).toBe(5)
    const buckets = latencyBucketsSeconds.map((bound) => samples.get(`dyn_request_duration_seconds_bucket{type="kv.put",le="${bound}"}`) ?? -1)
    expect(buckets.every((count, index) => count >= 0 && count >= (buckets[index - 1] ?? 0))).toBe(true)
    expect(samples.get('dyn_store_keys')).toBe(5)
    expect(samples.get('dyn_up')).toBe(1)
    expect(samples.get('dyn_connections_open')).toBeGreaterThanOrEqual(1)
    expect(samples.get('dyn_connections_turned_away_total')).toBe(0)
    expect(samples.has('dyn_store_corrupt_records')).toBe(true)
    expect(samples.has('dyn_store_dead_bytes')).toBe(true)
    // sync none: nothing is synced per write, so the journal counters stay at zero.
    expect(samples.get('dyn_store_syncs_total')).toBe(0)
    expect(samples.get('dyn_store_synced_records_total')).toBe(0)
    // n1 replicates every key (3 members, N=3): each of the 5 puts persisted its copy.
    expect(samples.get('dyn_object_writes_total')).toBeGreaterThanOrEqual(5)
    expect(samples.get('dyn_object_changes_total')).toBeGreaterThanOrEqual(samples.get('dyn_object_writes_total') ?? Number.NaN)
    // What `dyn top` shows besides requests: background work, memory, disk.
    for (const name of ['dyn_suspects', 'dyn_fault_cut_peers', 'dyn_hints_pending', 'dyn_hints_delivered_total', 'dyn_handoffs_active', 'dyn_handoff_keys_sent']) expect(samples.get(name), name).toBe(0)
    for (const name of ['dyn_anti_entropy_exchanges_total', 'dyn_anti_entropy_keys_repaired_total', 'dyn_anti_entropy_failures_total', 'dyn_anti_entropy_queued']) expect(samples.get(name), name).toBeGreaterThanOrEqual(0)
    expect(samples.get('dyn_process_resident_memory_bytes')).toBeGreaterThan(0)
    expect(samples.get('dyn_process_heap_used_bytes')).toBeGreaterThan(0)
    expect(samples.get('dyn_disk_free_bytes')).toBeGreaterThan(0)

    const missing = await fetchText(`${base}/nope`)
    expect(missing.status).toBe(404)

    const serving = tracker.logs.find((line) => line.includes(' n1 serving '))
    expect(serving).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z n1 serving wire=${daemon.addresses.wire} http=${daemon.addresses.http}`))
  })

  it('shows in /metrics how many writes each journal sync carried (sync always)', async () => {
    const specs = await tracker.clusterSpecs(3)
    const daemons = await Promise.all(specs.map((spec) => tracker.start(tracker.configOf(spec, specs, {sync: 'always'}))))
    const daemon = daemons[0]!
    const client = await tracker.client(daemon.addresses.wire)
    const puts = 64
    await Promise.all(Array.from({length: puts}, (_, index) => client.request('kv.put', {key: bytes(`k${index}`), value: bytes('v')})))
    const samples = parseExposition((await fetchText(`http://${daemon.addresses.http}/metrics`)).body)
    const syncs = samples.get('dyn_store_syncs_total') ?? Number.NaN
    const records = samples.get('dyn_store_synced_records_total') ?? Number.NaN
    // n1 holds a copy of every key (3 members, N=3) and made each durable through its journal;
    // 64 puts in flight at once share syncs.
    expect(records).toBeGreaterThanOrEqual(puts)
    expect(syncs).toBeGreaterThanOrEqual(1)
    expect(syncs).toBeLessThan(records)
    // Frames written in one tick leave in one socket write (src/net/writer.ts): the 64
    // requests the client sent at once alone make the frames outnumber the writes.
    const frames = samples.get('dyn_net_frames_written_total') ?? Number.NaN
    const writes = samples.get('dyn_net_socket_writes_total') ?? Number.NaN
    expect(writes).toBeGreaterThanOrEqual(1)
    expect(frames).toBeGreaterThan(writes)
  })

  it('on close: answers 503 while finishing a request in flight, answers it, then stops listening', async () => {
    const specs = await tracker.clusterSpecs(3)
    const [spec1, spec2, spec3] = specs
    if (spec1 === undefined || spec2 === undefined || spec3 === undefined) throw new Error('three specs expected')
    // n3 is a stand-in that holds replica requests until released.
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    let arrived!: () => void
    const arrival = new Promise<void>((resolve) => (arrived = resolve))
    const stub = new NetServer({identity: {cluster, role: 'node', name: 'n3'}})
    stub.handle('replica.get', async () => {
      arrived()
      await released
      return {ok: true}
    })
    stub.handle('replica.put', () => ({ok: true}))
    await stub.listen({host, port: spec3.wirePort})
    tracker.onCleanup(async () => {
      release()
      await stub.destroy()
    })
    const n1 = await tracker.start(tracker.configOf(spec1, specs, {requestTimeoutMs: 20_000}))
    await tracker.start(tracker.configOf(spec2, specs, {requestTimeoutMs: 20_000}))

    const client = await tracker.client(n1.addresses.wire)
    const inFlight = client.request('kv.get', {key: bytes('held'), r: 3}, {timeoutMs: 20_000}) as Promise<GetResponse>
    await within(arrival, 10_000, 'the replica request reaching n3')
    const closing = n1.close()
    const base = `http://${n1.addresses.http}`
    const during = await fetchText(`${base}/health`)
    expect(during.status).toBe(503)
    expect(JSON.parse(during.body)).toMatchObject({status: 'stopping'})
    release()
    const response = await within(inFlight, 10_000, 'the request in flight being answered')
    expect(response.ok).toBe(true)
    if (response.ok) expect(response.quorum.replies.map((reply) => reply.node).sort()).toEqual(['n1', 'n2', 'n3'])
    await within(closing, 10_000, 'the graceful close')
    await expect(fetch(`${base}/health`)).rejects.toThrow()
    expect(tracker.logs.some((line) => line.endsWith(' n1 stopped'))).toBe(true)
  })
})
