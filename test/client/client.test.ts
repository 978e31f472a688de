// The client's routing against small NetServer stubs on 127.0.0.1: each stub plays one node,
// answers ring.get with a fixed ring and records which kv requests reached it.
import {createServer} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import fc from 'fast-check'
import {DynClient, NoNodeReachableError} from '../../src/client/index.js'
import {encodeContext} from '../../src/core/causality.js'
import {NodeFailureError, type GetResponse, type PutResponse, type RingResponse} from '../../src/core/protocol.js'
import {createRing, preferenceList, type Ring} from '../../src/core/ring.js'
import {NetServer} from '../../src/net/index.js'

const cluster = 'client-test'
const host = '127.0.0.1'

interface Stub {
  name: string
  server: NetServer
  address: string
  seen: string[]
}

const servers: NetServer[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.destroy()))
})

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen({host, port: 0}, resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return typeof address === 'object' && address !== null ? address.port : 0
}

function okGet(name: string): GetResponse {
  return {
    ok: true,
    found: true,
    siblings: [{value: Buffer.from(`from ${name}`), dot: {node: name, counter: 1}}],
    context: encodeContext([{node: name, counter: 1}], {cluster}),
    quorum: {op: 'get', coordinator: name, n: 3, r: 2, ok: true, replies: [], pending: [], readRepair: []},
  }
}

function okPut(name: string): PutResponse {
  return {
    ok: true,
    context: encodeContext([{node: name, counter: 1}], {cluster}),
    dot: {node: name, counter: 1},
    siblings: 1,
    quorum: {op: 'put', coordinator: name, n: 3, w: 2, ok: true, replies: [], pending: []},
  }
}

/** Starts stubs n1..n3; `down` names nodes whose advertised address nobody listens on. */
async function startCluster(options: {down?: string[]} = {}): Promise<{stubs: Map<string, Stub>; ring: Ring; ringRequests: () => number}> {
  const names = ['n1', 'n2', 'n3']
  const ring = createRing({partitionCount: 16, replicas: 3, nodes: names.map((name) => ({name}))})
  const stubs = new Map<string, Stub>()
  let ringRequests = 0
  const addresses: {name: string; address: string}[] = []
  for (const name of names) {
    const server = new NetServer({identity: {cluster, role: 'node', name}})
    servers.push(server)
    const seen: string[] = []
    const ringResponse = (): RingResponse => ({ok: true, cluster, ring, nodes: addresses, n: 3, r: 2, w: 2})
    server.handle('ring.get', () => {
      ringRequests++
      return ringResponse()
    })
    server.handle('kv.get', () => (seen.push('kv.get'), okGet(name)))
    server.handle('kv.put', () => (seen.push('kv.put'), okPut(name)))
    server.handle('kv.delete', () => (seen.push('kv.delete'), okPut(name)))
    const {port} = await server.listen({host, port: 0})
    const advertised = options.down?.includes(name) === true ? await closedPort() : port
    if (options.down?.includes(name) === true) await server.destroy()
    const address = `${host}:${advertised}`
    addresses.push({name, address})
    stubs.set(name, {name, server, address: `${host}:${port}`, seen})
  }
  return {stubs, ring, ringRequests: () => ringRequests}
}

describe('DynClient partition-aware routing', () => {
  it('sends each request to the first primary of the key and fetches the ring once', async () => {
    const {stubs, ring, ringRequests} = await startCluster()
    const client = new DynClient({seeds: [stubs.get('n2')!.address], cluster})
    try {
      await fc.assert(
        fc.asyncProperty(fc.string({minLength: 1, maxLength: 20}), async (key) => {
          const first = preferenceList(ring, {key}, {n: 3}).primaries[0]!
          const result = await client.get(key)
          expect(result.quorum.coordinator).toBe(first)
          expect(result.address).toBe(stubs.get(first)!.address)
          const put = await client.put(key, 'v')
          expect(put.dot.node).toBe(first)
        }),
        {numRuns: 30},
      )
      expect(ringRequests()).toBe(1)
    } finally {
      await client.close()
    }
  })

  it('falls back to the next node of the preference list when the first primary cannot be reached', async () => {
    const {stubs, ring} = await startCluster({down: ['n1']})
    const client = new DynClient({seeds: [stubs.get('n3')!.address], cluster, connectTimeoutMs: 1_000})
    try {
      const key = fc.sample(fc.string({minLength: 1}), 200).find((k) => preferenceList(ring, {key: k}, {n: 3}).primaries[0] === 'n1')!
      const second = preferenceList(ring, {key}, {n: 3}).primaries[1]!
      const result = await client.get(key)
      expect(result.quorum.coordinator).toBe(second)
      const put = await client.put(key, 'v')
      expect(put.dot.node).toBe(second)
      expect(stubs.get(second)!.seen).toEqual(['kv.get', 'kv.put'])
    } finally {
      await client.close()
    }
  })

  it('throws NoNodeReachableError naming every address when no node answers', async () => {
    const client = new DynClient({seeds: [`${host}:${await closedPort()}`], cluster})
    try {
      await expect(client.get('k')).rejects.toBeInstanceOf(NoNodeReachableError)
      await expect(client.get('k')).rejects.toThrow(/no node could be reached for ring\.get/)
    } finally {
      await client.close()
    }
  })

  it('turns a failure response into NodeFailureError with its exit code and quorum details', async () => {
    const server = new NetServer({identity: {cluster, role: 'node', name: 'n1'}})
    servers.push(server)
    const quorum = {op: 'put', coordinator: 'n1', n: 3, w: 3, ok: false, replies: [{node: 'n1', status: 'ok', ms: 1}], pending: ['n2', 'n3']}
    server.handle('kv.put', () => ({ok: false, error: {code: 'QUORUM_NOT_MET', message: 'put needed W=3', exitCode: 3, suggestion: 'retry', quorum}}))
    const {port} = await server.listen({host, port: 0})
    const client = new DynClient({seeds: [`${host}:${port}`], cluster, routing: 'direct'})
    try {
      const error = await client.put('k', 'v', {w: 3}).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(NodeFailureError)
      expect(error).toMatchObject({code: 'QUORUM_NOT_MET', exitCode: 3, suggestion: 'retry', quorum})
    } finally {
      await client.close()
    }
  })

  it('direct routing sends every request to the given node, which forwards', async () => {
    const {stubs} = await startCluster()
    const client = new DynClient({seeds: [stubs.get('n2')!.address], cluster, routing: 'direct'})
    try {
      for (const key of ['a', 'b', 'c', 'd']) await client.get(key)
      expect(stubs.get('n2')!.seen).toEqual(['kv.get', 'kv.get', 'kv.get', 'kv.get'])
    } finally {
      await client.close()
    }
  })

  it('stops at an aborted signal', async () => {
    const {stubs} = await startCluster()
    const client = new DynClient({seeds: [stubs.get('n1')!.address], cluster, routing: 'direct'})
    try {
      const controller = new AbortController()
      controller.abort()
      await expect(client.get('k', {signal: controller.signal})).rejects.toMatchObject({code: 'ABORTED'})
    } finally {
      await client.close()
    }
  })
})
