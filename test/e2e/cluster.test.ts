// End-to-end on real processes (DESIGN §10.4): `dyn cluster up` in a temporary directory
// on random high ports, reads and writes through each node, siblings from concurrent blind
// writes and their resolution with a context, exit code 4 for a missing key, garbage on a
// node's port, `down` leaving no process, and a torn log tail survived at restart.
import {appendFile, mkdtemp, readdir, readFile, rm, stat} from 'node:fs/promises'
import {connect} from 'node:net'
import {randomBytes} from 'node:crypto'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DynClient} from '../../src/client/index.js'
import {isAlive, killNode, nodePaths, probeHealth, readClusterFile, startNode} from '../../src/cluster/index.js'
import {dyn, json, randomBasePort, type Run} from '../commands/helpers.js'

let dir: string
/** Wire ports base..base+2, HTTP ports 1000 above; random so parallel runs do not collide. */
const basePort = randomBasePort()
const pidsSeen = new Set<number>()

async function upCluster(): Promise<Record<string, unknown>> {
  const run = await dyn(['cluster', 'up', '--dir', dir, '--base-port', String(basePort), '--json'], {timeoutMs: 60_000})
  expect(run.exitCode, run.stderr + run.stdout).toBe(0)
  const shape = json(run) as {nodes: {pid: number}[]}
  for (const node of shape.nodes) pidsSeen.add(node.pid)
  return shape
}

function client(node: number): DynClient {
  return new DynClient({seeds: [`127.0.0.1:${basePort + node - 1}`], cluster: 'dyn', routing: 'direct'})
}

function expectOk(run: Run): Record<string, unknown> {
  expect(run.exitCode, run.stderr + run.stdout).toBe(0)
  return json(run)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-e2e-'))
  await upCluster()
})

afterAll(async () => {
  await dyn(['cluster', 'down', '--dir', dir]).catch(() => undefined)
  for (const pid of pidsSeen) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  }
  await rm(dir, {recursive: true, force: true})
})

describe('a local cluster of three real nodes', () => {
  it('starts: status shows every node running; a second up refuses', async () => {
    const [status, again, ring] = await Promise.all([
      dyn(['cluster', 'status', '--dir', dir, '--json']),
      dyn(['cluster', 'up', '--dir', dir, '--base-port', String(basePort), '--json']),
      dyn(['ring', '--key', 'fruit', '--dir', dir, '--json']),
    ])
    expect(expectOk(ring)).toMatchObject({version: 1, key: 'fruit', hash: expect.stringMatching(/^[0-9a-f]{32}$/), partition: expect.any(Number)})
    expect([...(json(ring).preferenceList as string[])].sort()).toEqual(['n1', 'n2', 'n3'])
    const shape = expectOk(status) as {nodes: {name: string; state: string; address: string}[]}
    expect(shape.nodes.map((node) => [node.name, node.state, node.address])).toEqual([
      ['n1', 'running', `127.0.0.1:${basePort}`],
      ['n2', 'running', `127.0.0.1:${basePort + 1}`],
      ['n3', 'running', `127.0.0.1:${basePort + 2}`],
    ])
    expect(again.exitCode).toBe(1)
    expect(json(again)).toMatchObject({error: {code: 'CLUSTER_RUNNING'}})
  })

  it('writes and reads through each node', async () => {
    for (const node of [1, 2, 3]) {
      const writer = client(node)
      const reader = client((node % 3) + 1)
      try {
        const put = await writer.put(`key-${node}`, `value via n${node}`)
        expect(put.quorum.ok).toBe(true)
        const got = await reader.get(`key-${node}`)
        expect(got.siblings.map((sibling) => Buffer.from(sibling.value).toString())).toEqual([`value via n${node}`])
      } finally {
        await Promise.all([writer.close(), reader.close()])
      }
    }
    const viaCli = expectOk(await dyn(['get', 'key-1', '--dir', dir, '--node', 'n3', '--json']))
    expect(viaCli).toMatchObject({found: true, siblings: [{value: 'value via n1'}]})
  })

  it('two blind puts through different nodes are siblings; a put with the context of a get that saw both leaves one', async () => {
    const [first, second] = await Promise.all([
      dyn(['put', 'fruit', 'apple', '--dir', dir, '--node', 'n1', '--json']),
      dyn(['put', 'fruit', 'pear', '--dir', dir, '--node', 'n2', '--json']),
    ])
    expectOk(first)
    expectOk(second)
    const both = expectOk(await dyn(['get', 'fruit', '--dir', dir, '--r', '3', '--show-clock', '--json'])) as {
      siblings: {value: string; dot: {node: string; counter: number}}[]
      context: string
      clock: string
    }
    expect(both.siblings.map((sibling) => sibling.value).sort()).toEqual(['apple', 'pear'])
    // Two blind writes: the context covers exactly their two dots, one from each coordinator.
    expect(both.siblings.map((sibling) => sibling.dot.node).sort()).toEqual(['n1', 'n2'])
    expect(both.clock).toBe(both.siblings.map((sibling) => `${sibling.dot.node}:${sibling.dot.counter}`).sort().join(', '))
    expectOk(await dyn(['put', 'fruit', 'fig', '--dir', dir, '--context', both.context, '--w', '3', '--json']))
    const reader = client(3)
    try {
      const one = await reader.get('fruit', {r: 3})
      expect(one.siblings.map((sibling) => Buffer.from(sibling.value).toString())).toEqual(['fig'])
    } finally {
      await reader.close()
    }
  })

  it('a get of a missing key exits 4 and prints the not-found result', async () => {
    const run = await dyn(['get', 'never-written', '--dir', dir, '--json'])
    expect(run.exitCode).toBe(4)
    expect(json(run)).toMatchObject({version: 1, key: 'never-written', found: false, siblings: [], quorum: {ok: true}})
  })

  it('random bytes written to a node port do not disturb it', async () => {
    const closes: boolean[] = []
    for (let round = 0; round < 5; round++) {
      const socket = connect({host: '127.0.0.1', port: basePort})
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
      socket.on('error', () => {})
      socket.resume() // read the node's hello and error frame, so its close is seen
      socket.write(randomBytes(4096))
      const closedByNode = await new Promise<boolean>((resolve) => {
        socket.once('close', () => resolve(true))
        setTimeout(() => resolve(false), 3_000)
      })
      socket.destroy()
      closes.push(closedByNode)
    }
    // A length prefix under the frame limit (first byte 0: 1 in 256) leaves the node waiting
    // for the rest of the frame until its hello timeout, so allow one such round.
    expect(closes.filter(Boolean).length).toBeGreaterThanOrEqual(4)
    expect(await probeHealth(`127.0.0.1:${basePort + 1000}`)).toMatchObject({ok: true, name: 'n1'})
    const n1 = client(1)
    try {
      expect((await n1.get('key-2')).siblings).toHaveLength(1)
    } finally {
      await n1.close()
    }
  })

  it('a node killed and started on an empty data directory writes under a new actor; no acknowledged write is lost', {timeout: 90_000}, async () => {
    // n1 coordinates every put sent to it (N=3 of 3 nodes: each node replicates every key).
    const keys = Array.from({length: 8}, (_, index) => `replaced-${index}`)
    const acknowledged = new Map<string, string[]>()
    const before = client(1)
    try {
      for (const key of keys) {
        expect((await before.put(key, `${key}-before`)).dot.node).toBe('n1')
        acknowledged.set(key, [`${key}-before`])
      }
    } finally {
      await before.close()
    }

    expect(await killNode({dir, node: 'n1'})).toMatchObject({outcome: 'killed'})
    const {dataDir, logPath} = nodePaths(dir, 'n1')
    await rm(dataDir, {recursive: true, force: true})
    const started = await startNode({dir, node: 'n1'})
    pidsSeen.add(started.pid)
    expect(started.outcome).toBe('started')

    // Blind puts through n1 again: under its old actor its counters would start over and
    // name the dots the "before" values have, and n2 and n3 would drop them as seen.
    const after = client(1)
    try {
      for (const key of keys) {
        expect((await after.put(key, `${key}-after`)).dot.node).toMatch(/^n1~\d+\.0$/)
        acknowledged.get(key)!.push(`${key}-after`)
      }
    } finally {
      await after.close()
    }
    expect(await readFile(logPath, 'utf8')).toMatch(/this data directory \([0-9a-f]{16}\) is new and n[23] knows n1 on data directory [0-9a-f]{16}: writing as new actors/)

    // Every acknowledged value is a sibling on every replica (R=3, through n2).
    const reader = client(2)
    try {
      for (const [key, values] of acknowledged) {
        const read = await reader.get(key, {r: 3})
        expect(read.siblings.map((sibling) => Buffer.from(sibling.value).toString('utf8')).sort(), key).toEqual([...values].sort())
      }
    } finally {
      await reader.close()
    }
  })

  it('down leaves no process; a torn tail appended to a stopped node segment is survived at restart', async () => {
    const down = expectOk(await dyn(['cluster', 'down', '--dir', dir, '--json'])) as {nodes: {name: string; outcome: string}[]}
    expect(down.nodes.map((node) => node.outcome)).toEqual(['stopped', 'stopped', 'stopped'])
    for (const pid of pidsSeen) expect(await running(pid), `pid ${pid}`).toBe(false)
    const file = await readClusterFile(dir)
    expect(file.nodes.map((node) => node.pid)).toEqual([null, null, null])

    const segment = await lastSegment(join(dir, 'n1', 'data'))
    const sizeBefore = (await stat(segment)).size
    await appendFile(segment, randomBytes(23))

    const restarted = await upCluster()
    expect(restarted).toMatchObject({restarted: true})
    const n1 = client(1)
    try {
      for (const key of ['key-1', 'key-2', 'key-3']) expect((await n1.get(key, {r: 3})).found, key).toBe(true)
      expect((await n1.put('after-restart', 'ok')).quorum.ok).toBe(true)
    } finally {
      await n1.close()
    }
    // The node said so at start: the 23 bytes were cut off, nothing else.
    const log = await readFile(join(dir, 'n1', 'node.log'), 'utf8')
    expect(log).toContain('store: torn tail truncated')
    expect(log).toContain(`torn tail truncated path=${segment} offset=${sizeBefore} bytes=23`)
  })
})

/** The newest .data segment of a partition of this node that holds data. */
async function lastSegment(dataDir: string): Promise<string> {
  for (const partition of (await readdir(dataDir)).sort()) {
    const segments = (await readdir(join(dataDir, partition))).filter((name) => name.endsWith('.data')).sort()
    const last = segments.at(-1)
    if (last !== undefined && (await stat(join(dataDir, partition, last))).size > 0) return join(dataDir, partition, last)
  }
  throw new Error(`no segment with data under ${dataDir}`)
}

/** Alive and not a zombie: an exited node waits for its new parent (init) to reap it, and
 * that is no process left behind. */
async function running(pid: number): Promise<boolean> {
  if (!isAlive(pid)) return false
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  return stat !== '' && !/^\d+ \(.*\) Z/.test(stat)
}
