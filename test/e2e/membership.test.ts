// End-to-end membership change on real processes (DESIGN §10.4): a 3-node cluster with
// keys in it, `dyn cluster join` starts a fourth node and stages its join, `plan` shows the
// partitions moving to it, `commit` installs the new ring, ownership handoff moves the
// data, and every key stays readable from all three of its replicas.
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DynClient} from '../../src/client/index.js'
import {isAlive, readClusterFile} from '../../src/cluster/index.js'
import {dyn, json, randomBasePort, type Run} from '../commands/helpers.js'

let dir: string
/** Wire ports base..base+3, HTTP ports 1000 above; random so parallel runs do not collide. */
const basePort = randomBasePort()
const keyCount = 200
const pidsSeen = new Set<number>()

function expectOk(run: Run): Record<string, unknown> {
  expect(run.exitCode, run.stderr + run.stdout).toBe(0)
  return json(run)
}

async function rememberPids(): Promise<void> {
  for (const node of (await readClusterFile(dir)).nodes) if (node.pid !== null) pidsSeen.add(node.pid)
}

interface StatusShape {
  nodes: {name: string; state: string}[]
  membership: {
    members: {name: string; status: string}[]
    nodes: {name: string; status: string | null; ringVersion: number | null}[]
    handoffs: unknown[]
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-e2e-membership-'))
  const run = await dyn(['cluster', 'up', '--dir', dir, '--base-port', String(basePort), '--json'], {timeoutMs: 60_000})
  await rememberPids().catch(() => undefined)
  expectOk(run)
}, 70_000)

afterAll(async () => {
  await rememberPids().catch(() => undefined)
  await dyn(['cluster', 'down', '--dir', dir]).catch(() => undefined)
  for (const pid of pidsSeen) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  await rm(dir, {recursive: true, force: true})
})

describe('a node joins a running cluster', () => {
  it('join, plan, commit, handoff: four valid members and every key on its replicas', async () => {
    const client = new DynClient({seeds: [`127.0.0.1:${basePort}`], cluster: 'dyn', routing: 'direct'})
    try {
      for (let i = 0; i < keyCount; i++) await client.put(`key-${i}`, `value-${i}`)

      const joined = expectOk(await dyn(['cluster', 'join', '--dir', dir, '--json'], {timeoutMs: 60_000}))
      await rememberPids()
      expect(joined).toMatchObject({version: 1, name: 'n4', address: `127.0.0.1:${basePort + 3}`})
      expect((await readClusterFile(dir)).nodes.map((node) => node.name)).toEqual(['n1', 'n2', 'n3', 'n4'])

      const plan = expectOk(await dyn(['cluster', 'plan', '--dir', dir, '--json']))
      expect(plan).toMatchObject({claimant: 'n1', baseRingVersion: 1, ringVersion: 2, transitions: [{name: 'n4', from: 'joining', to: 'valid'}]})
      const transfers = plan.transfers as {to: string}[]
      expect(transfers.length).toBeGreaterThan(0)
      expect(transfers.every((transfer) => transfer.to === 'n4')).toBe(true)

      const committed = expectOk(await dyn(['cluster', 'commit', '--dir', dir, '--json']))
      expect(committed).toMatchObject({committed: true, ringVersion: 2})
      const again = await dyn(['cluster', 'commit', '--dir', dir, '--json'])
      expect(again.exitCode).toBe(2)
      expect(json(again)).toMatchObject({error: {code: 'NOTHING_STAGED'}})

      let status: StatusShape | undefined
      const deadline = performance.now() + 30_000
      for (;;) {
        status = expectOk(await dyn(['cluster', 'status', '--dir', dir, '--json'])) as unknown as StatusShape
        const settled =
          status.membership.handoffs.length === 0 &&
          status.membership.nodes.every((node) => node.status === 'valid' && node.ringVersion === 2) &&
          status.membership.members.length === 4
        if (settled || performance.now() > deadline) break
        await sleep(500)
      }
      expect(status.nodes.map((node) => [node.name, node.state])).toEqual(['n1', 'n2', 'n3', 'n4'].map((name) => [name, 'running']))
      expect(status.membership.members.map((member) => [member.name, member.status])).toEqual(['n1', 'n2', 'n3', 'n4'].map((name) => [name, 'valid']))
      expect(status.membership.handoffs).toEqual([])

      const newcomer = new DynClient({seeds: [`127.0.0.1:${basePort + 3}`], cluster: 'dyn', routing: 'direct'})
      const ring = await newcomer.ring().finally(() => newcomer.close())
      expect(ring.ring.version).toBe(2)
      const missing: string[] = []
      for (let i = 0; i < keyCount; i++) {
        const read = await client.get(`key-${i}`, {r: 3})
        if (!read.found || new TextDecoder().decode(read.siblings[0]!.value) !== `value-${i}`) missing.push(`key-${i}`)
      }
      expect(missing).toEqual([])
    } finally {
      await client.close()
    }
  }, 60_000)
})
