// `dyn merkle diff` as a real process against three nodes served over the wire protocol
// from this process. The nodes never tick, so no anti-entropy runs behind the test's back
// and the differences stay exactly those the test made.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {Buffer} from 'node:buffer'
import {diffReplicas} from '../../src/client/merkle.js'
import {partitionOfKey} from '../../src/core/hash.js'
import {parseRequest, messageTypes} from '../../src/core/protocol.js'
import {NetServer} from '../../src/net/index.js'
import {AeCluster, partitionCount} from '../node/anti-entropy-harness.js'
import {bytes} from '../node/harness.js'
import {dyn, json} from './helpers.js'

const names = ['n1', 'n2', 'n3']
const servers: NetServer[] = []
const addresses: string[] = []
let cluster: AeCluster
/** Keys written while n3 was down. */
const missingOnN3 = ['m-1', 'm-2', 'm-3']

beforeAll(async () => {
  for (const name of names) {
    const server = new NetServer({identity: {cluster: 'test', role: 'node', name}})
    for (const type of messageTypes) server.handle(type, (payload) => cluster.node(name).handle(type, parseRequest(type, payload)))
    const {port} = await server.listen({host: '127.0.0.1', port: 0})
    servers.push(server)
    addresses.push(`127.0.0.1:${port}`)
  }
  cluster = new AeCluster({}, addresses)
  for (let i = 0; i < 20; i++) await cluster.writeWithout('n2', 'n1', `all-${i}`, 'v')
  // n2 missed those twenty; let n1 and n2 agree again, leaving n3 as the one behind.
  for (let partition = 0; partition < partitionCount; partition++) await cluster.node('n1').antiEntropy.exchange(partition, 'n2')
  for (const key of missingOnN3) await cluster.writeWithout('n3', 'n1', key, 'v')
})

afterAll(async () => {
  await Promise.all(servers.map((server) => server.destroy()))
})

describe('dyn merkle diff', () => {
  it('reports no difference between equal replicas; lists the partitions, segments and keys only one side has', async () => {
    const [equal, run] = await Promise.all([
      dyn(['merkle', 'diff', addresses[0]!, addresses[1]!, '--cluster', 'test', '--json']),
      dyn(['merkle', 'diff', addresses[0]!, addresses[2]!, '--cluster', 'test', '--json']),
    ])
    expect(equal.exitCode).toBe(0)
    expect(json(equal)).toEqual({version: 1, a: addresses[0], b: addresses[1], compared: partitionCount, partitions: [], differences: 0})
    expect(run.exitCode).toBe(0)
    const output = json(run) as {differences: number; partitions: Array<{partition: number; segments: number[]; keys: Array<{key: string; a: string | null; b: string | null}>}>}
    expect(output.differences).toBe(missingOnN3.length)
    const keys = output.partitions.flatMap((partition) => partition.keys)
    expect(keys.map((entry) => entry.key).sort()).toEqual(missingOnN3)
    for (const entry of keys) {
      expect(entry.a).toMatch(/^[0-9a-f]{32}$/)
      expect(entry.b).toBeNull()
    }
    const expectedPartitions = [...new Set(missingOnN3.map((key) => partitionOfKey(bytes(key), partitionCount)))].sort((x, y) => x - y)
    expect(output.partitions.map((partition) => partition.partition)).toEqual(expectedPartitions)
    for (const partition of output.partitions) expect(partition.segments.length).toBe(partition.keys.length)
  })

  it('exits 1 with --fail-on-difference, in text and JSON', async () => {
    const [text, asJson, equal] = await Promise.all([
      dyn(['merkle', 'diff', addresses[2]!, addresses[0]!, '--cluster', 'test', '--fail-on-difference']),
      dyn(['merkle', 'diff', addresses[2]!, addresses[0]!, '--cluster', 'test', '--fail-on-difference', '--json']),
      dyn(['merkle', 'diff', addresses[0]!, addresses[1]!, '--cluster', 'test', '--fail-on-difference']),
    ])
    expect(text.exitCode).toBe(1)
    expect(text.stdout).toMatch(/differ: 3 key\(s\)/)
    expect(text.stdout).toMatch(new RegExp(`m-1  only on ${addresses[0]!.replace(/\./g, '\\.')}`))
    expect(asJson.exitCode).toBe(1)
    expect(json(asJson)).toMatchObject({differences: 3})
    expect(equal.exitCode).toBe(0)
    expect(equal.stdout).toMatch(/are equal in the 8 partition/)
  })

  it('compares one partition with --partition; refuses one outside the ring; fails on an unreachable node', async () => {
    const partition = partitionOfKey(bytes('m-1'), partitionCount)
    const [one, outside, unreachable] = await Promise.all([
      dyn(['merkle', 'diff', addresses[0]!, addresses[2]!, '--cluster', 'test', '--partition', String(partition), '--json']),
      dyn(['merkle', 'diff', addresses[0]!, addresses[2]!, '--cluster', 'test', '--partition', String(partitionCount), '--json']),
      dyn(['merkle', 'diff', addresses[0]!, '127.0.0.1:1', '--cluster', 'test', '--json']),
    ])
    expect(one.exitCode).toBe(0)
    expect(json(one)).toMatchObject({compared: 1, partitions: [{partition}]})
    expect(outside.exitCode).toBe(2)
    expect(json(outside)).toMatchObject({error: {exitCode: 2, message: expect.stringMatching(/does not exist/)}})
    expect(unreachable.exitCode).toBe(1)
    expect(json(unreachable)).toMatchObject({error: {exitCode: 1}})
  })

  it('tells versions that differ apart from keys missing on one side (library)', async () => {
    // A concurrent write of m-1 on n3 alone: both now hold m-1, at different versions.
    cluster.down.add('n1')
    cluster.down.add('n2')
    await cluster.node('n3').handle('kv.put', {key: bytes('m-1'), value: bytes('other'), w: 1})
    cluster.down.clear()
    const diff = await diffReplicas({cluster: 'test', a: {address: addresses[0]!}, b: {address: addresses[2]!}, partitions: [partitionOfKey(bytes('m-1'), partitionCount)]})
    const entry = diff.partitions[0]!.keys.find((key) => Buffer.from(key.key).toString() === 'm-1')!
    expect(entry.a).toBeInstanceOf(Uint8Array)
    expect(entry.b).toBeInstanceOf(Uint8Array)
    expect(Buffer.from(entry.a!).equals(entry.b!)).toBe(false)
  })
})
