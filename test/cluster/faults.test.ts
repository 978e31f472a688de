// Fault injection and single-node lifecycle of local clusters: the partition plan (a
// property test against the definition "cut exactly the nodes of other groups"), the
// node's admin.faults handler, the daemon's filter cutting both directions when only one
// side was told, partition/heal skipping stopped nodes, and kill/stop/start on stand-in
// processes (the real nodes are exercised by test/e2e/chaos.test.ts).
import {spawn, type ChildProcess} from 'node:child_process'
import {once} from 'node:events'
import {mkdir, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import fc from 'fast-check'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {
  adminRequest,
  heal,
  isAlive,
  isNodeProcess,
  killNode,
  NodeStartError,
  parseGroups,
  partition,
  PartitionGroupsError,
  planCluster,
  planPartition,
  readClusterFile,
  startNode,
  stopNode,
  UnknownClusterNodeError,
  writeClusterFile,
  type ClusterFile,
} from '../../src/cluster/index.js'
import type {DynError} from '../../src/core/errors.js'
import {FilterFaultControl} from '../../src/daemon/faults.js'
import {NetTransport} from '../../src/daemon/index.js'
import {NetServer} from '../../src/net/index.js'
import {Faults} from '../../src/node/faults.js'
import {MemoryMetaStore} from '../../src/sim/memory-store.js'
import {bytes, host, Tracker} from '../daemon/helpers.js'
import {randomBasePort} from '../commands/helpers.js'

describe('planPartition', () => {
  const clusterAndGroups = fc
    .integer({min: 2, max: 9})
    .chain((size) =>
      fc.tuple(
        fc.constant(Array.from({length: size}, (_, index) => `n${index + 1}`)),
        // Each node's group number; -1: named in no group.
        fc.array(fc.integer({min: -1, max: 3}), {minLength: size, maxLength: size}),
      ),
    )
    .map(([nodes, labels]) => {
      const groups = [0, 1, 2, 3].map((label) => nodes.filter((_, index) => labels[index] === label)).filter((group) => group.length > 0)
      return {nodes, groups}
    })

  it('cuts exactly the nodes of other groups, symmetrically; the unnamed nodes form one group', () => {
    fc.assert(
      fc.property(clusterAndGroups, ({nodes, groups}) => {
        const unnamed = nodes.filter((name) => !groups.flat().includes(name))
        const groupCount = groups.length + (unnamed.length > 0 ? 1 : 0)
        if (groupCount < 2) {
          expect(() => planPartition(nodes, groups)).toThrow(PartitionGroupsError)
          return
        }
        const plan = planPartition(nodes, groups)
        const groupOf = (name: string): number => plan.groups.findIndex((group) => group.includes(name))
        expect(plan.groups.flat().sort()).toEqual([...nodes].sort())
        for (const a of nodes) {
          const cut = plan.cuts.get(a) ?? []
          expect(cut).toEqual([...cut].sort())
          for (const b of nodes) expect(cut.includes(b)).toBe(groupOf(a) !== groupOf(b))
        }
        if (unnamed.length > 0) expect(plan.groups.at(-1)).toEqual(unnamed)
      }),
      {numRuns: 200},
    )
  })

  it('refuses unknown and repeated names and a single group, as usage errors', () => {
    const nodes = ['n1', 'n2', 'n3']
    const unknown = (): unknown => planPartition(nodes, [['n1', 'n7']])
    expect(unknown).toThrow(UnknownClusterNodeError)
    expect(unknown).toThrow('node n7 is not in this cluster (nodes: n1, n2, n3)')
    expect(() => planPartition(nodes, [['n1'], ['n2', 'n1']])).toThrow('n1 is named twice')
    expect(() => planPartition(nodes, [['n1', 'n2', 'n3']])).toThrow(PartitionGroupsError)
    for (const attempt of [unknown, () => planPartition(nodes, [['n1', 'n2', 'n3']])]) {
      try {
        attempt()
      } catch (error) {
        expect((error as DynError).exitCode).toBe(2)
      }
    }
  })

  it('parses groups separated by arguments, members by commas', () => {
    expect(parseGroups(['n1,n2', 'n3'])).toEqual([['n1', 'n2'], ['n3']])
    expect(parseGroups(['n1, n2'])).toEqual([['n1', 'n2']])
    expect(() => parseGroups(['n1,,n2'])).toThrow(PartitionGroupsError)
  })
})

describe('the admin.faults handler', () => {
  function faults(control = new RecordingControl()): {faults: Faults; control: RecordingControl} {
    return {faults: new Faults({self: 'n1', control, members: () => ['n1', 'n2', 'n3']}), control}
  }

  it('replaces the cut with the sorted, deduplicated names and answers it as JSON', async () => {
    const {faults: node, control} = faults()
    expect(await node.handlers['admin.faults']({cut: ['n3', 'n2', 'n3']})).toEqual({ok: true, json: JSON.stringify({version: 1, name: 'n1', cut: ['n2', 'n3']})})
    await node.handlers['admin.faults']({cut: ['n2']})
    await node.handlers['admin.faults']({cut: []})
    expect(control.calls).toEqual([['n2', 'n3'], ['n2'], []])
    expect(node.cut).toEqual([])
  })

  it('keeps the cut across a restart until it is healed, dropping names that left the membership', async () => {
    const meta = new MemoryMetaStore()
    const members = ['n1', 'n2', 'n3']
    const first = new Faults({self: 'n1', control: new RecordingControl(), members: () => members, meta})
    await first.handlers['admin.faults']({cut: ['n3', 'n2']})
    // A new process on the same data: the cut is back before it serves.
    const control = new RecordingControl()
    const restarted = new Faults({self: 'n1', control, members: () => members, meta})
    await restarted.load()
    expect(restarted.cut).toEqual(['n2', 'n3'])
    expect(control.calls).toEqual([['n2', 'n3']])
    // n3 left the cluster meanwhile: only n2 is cut after the next restart.
    const shrunk = new Faults({self: 'n1', control: new RecordingControl(), members: () => ['n1', 'n2'], meta})
    await shrunk.load()
    expect(shrunk.cut).toEqual(['n2'])
    // Healed: nothing is cut after a restart.
    await restarted.handlers['admin.faults']({cut: []})
    const healed = new Faults({self: 'n1', control: new RecordingControl(), members: () => members, meta})
    await healed.load()
    expect(healed.cut).toEqual([])
  })

  it('refuses itself and non-members without changing anything, and says so when the shell cannot cut', () => {
    const {faults: node, control} = faults()
    node.apply(['n2'])
    expect(() => node.apply(['n1'])).toThrow(/cannot cut itself/)
    expect(() => node.apply(['n2', 'n9'])).toThrow(/non-members n9 \(members: n1, n2, n3\)/)
    expect(control.calls).toEqual([['n2']])
    expect(node.cut).toEqual(['n2'])
    const without = new Faults({self: 'n1', control: undefined, members: () => ['n1', 'n2']})
    expect(() => without.apply([])).toThrow(expect.objectContaining({code: 'UNSUPPORTED'}) as Error)
  })
})

/** Repeats `attempt` until it answers ok or the time is up; returns the last answer. */
async function eventually(attempt: () => Promise<unknown>, timeoutMs: number): Promise<unknown> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const answer = await attempt()
    if ((answer as {ok?: unknown}).ok === true || performance.now() > deadline) return answer
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

class RecordingControl {
  readonly calls: string[][] = []
  cut(nodes: readonly string[]): void {
    this.calls.push([...nodes])
  }
}

describe('the daemon filter', () => {
  const tracker = new Tracker()
  afterEach(() => tracker.cleanup())

  it('drops the transport traffic to a cut peer and restores it on heal', async () => {
    const peer = new NetServer({identity: {cluster: 'test', role: 'node', name: 'n2'}})
    peer.handle('node.ping', () => ({ok: true}))
    const bound = await peer.listen({host, port: 0})
    tracker.onCleanup(() => peer.close())
    const control = new FilterFaultControl()
    const transport = new NetTransport({cluster: 'test', name: 'n1', addresses: new Map([['n2', `${host}:${bound.port}`]]), faults: control.filter})
    tracker.onCleanup(() => transport.close())
    const ping = (): Promise<unknown> => transport.request('n2', 'node.ping', {from: 'n1'}, {timeoutMs: 300})
    expect(await ping()).toEqual({ok: true})
    control.cut(['n2'])
    await expect(ping()).rejects.toMatchObject({code: 'TIMEOUT'})
    control.cut([])
    expect(await ping()).toEqual({ok: true})
  })

  it('cuts both directions when only one of two nodes was told; clients still reach both', async () => {
    const {daemons} = await tracker.startCluster(2)
    const [first, second] = daemons.map((daemon) => daemon.addresses.wire)
    const put = async (address: string, key: string): Promise<unknown> => {
      const connection = await tracker.client(address ?? '')
      return connection.request('kv.put', {key: bytes(key), value: bytes('v'), w: 2}, {timeoutMs: 5_000})
    }
    const told = await adminRequest({address: first ?? '', cluster: 'test', type: 'admin.faults', payload: {cut: ['n2']}})
    expect(told).toEqual({version: 1, name: 'n1', cut: ['n2']})
    // N=2, W=2: each write needs the other node, whichever coordinates it.
    expect(await put(first ?? '', 'a')).toMatchObject({ok: false, error: {code: 'QUORUM_NOT_MET'}})
    expect(await put(second ?? '', 'b')).toMatchObject({ok: false, error: {code: 'QUORUM_NOT_MET'}})
    await expect(adminRequest({address: first ?? '', cluster: 'test', type: 'admin.faults', payload: {cut: ['n1']}})).rejects.toMatchObject({code: 'BAD_REQUEST', exitCode: 2})
    await adminRequest({address: first ?? '', cluster: 'test', type: 'admin.faults', payload: {cut: []}})
    // Each node suspects the other after the timeouts; heartbeats clear that within seconds.
    expect(await eventually(() => put(first ?? '', 'c'), 10_000)).toMatchObject({ok: true})
    expect(await eventually(() => put(second ?? '', 'd'), 10_000)).toMatchObject({ok: true})
    expect(tracker.logs.some((line) => line.includes('faults: links cut to n2'))).toBe(true)
  })
})

describe('partition, heal, kill, stop and start on a cluster directory', () => {
  let dir: string
  const children: ChildProcess[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dyn-faults-'))
  })

  afterEach(async () => {
    for (const child of children) if (child.pid !== undefined && isAlive(child.pid)) child.kill('SIGKILL')
    children.length = 0
    await rm(dir, {recursive: true, force: true})
  })

  /** A process that `isNodeProcess` takes for the node: its command line names the node's
   * configuration file. */
  async function standIn(configPath: string, options: {ignoreTerm: boolean}): Promise<number> {
    const script = `${options.ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} setInterval(() => {}, 1000); console.log('ready')`
    const child = spawn(process.execPath, ['-e', script, '--', configPath], {stdio: ['ignore', 'pipe', 'ignore']})
    children.push(child)
    await once(child.stdout, 'data')
    return child.pid ?? 0
  }

  async function clusterWith(pids: readonly (number | null)[]): Promise<ClusterFile> {
    const plan = planCluster(dir, {nodes: pids.length, n: Math.min(3, pids.length), basePort: randomBasePort()})
    const file = {...plan, nodes: plan.nodes.map((node, index) => ({...node, pid: pids[index] ?? null}))}
    for (const node of file.nodes) await mkdir(node.dataDir, {recursive: true})
    await writeClusterFile(dir, file)
    return file
  }

  it('partition and heal skip nodes that are not running and report every node', async () => {
    await clusterWith([null, null, null])
    const split = await partition({dir, groups: [['n1']]})
    expect(split.groups).toEqual([['n1'], ['n2', 'n3']])
    expect(split.nodes).toEqual([
      {name: 'n1', cut: ['n2', 'n3'], outcome: 'notRunning'},
      {name: 'n2', cut: ['n1'], outcome: 'notRunning'},
      {name: 'n3', cut: ['n1'], outcome: 'notRunning'},
    ])
    expect((await heal({dir})).nodes.map((node) => node.cut)).toEqual([[], [], []])
    await expect(partition({dir, groups: [['n4']]})).rejects.toBeInstanceOf(UnknownClusterNodeError)
  })

  it('kill sends SIGKILL at once and records the node as stopped; a second kill finds nothing', async () => {
    const file = await clusterWith([null, null])
    const pid = await standIn(file.nodes[1]!.configPath, {ignoreTerm: true})
    await clusterWith([null, pid])
    const killed = await killNode({dir, node: 'n2'})
    expect(killed).toMatchObject({name: 'n2', pid, outcome: 'killed'})
    // Gone as a node: it may linger a moment as a zombie until this test process, its
    // parent, reaps it, and a zombie still answers kill(pid, 0).
    expect(await isNodeProcess(pid, file.nodes[1]!.configPath)).toBe(false)
    expect((await readClusterFile(dir)).nodes[1]!.pid).toBeNull()
    expect(await killNode({dir, node: 'n2'})).toMatchObject({pid: null, outcome: 'notRunning'})
    await expect(killNode({dir, node: 'n5'})).rejects.toThrow('node n5 is not in this cluster (nodes: n1, n2)')
  })

  it('stop ends a node with SIGTERM, or with SIGKILL after the grace period', async () => {
    const file = await clusterWith([null, null])
    const polite = await standIn(file.nodes[0]!.configPath, {ignoreTerm: false})
    const stubborn = await standIn(file.nodes[1]!.configPath, {ignoreTerm: true})
    await clusterWith([polite, stubborn])
    expect(await stopNode({dir, node: 'n1', graceMs: 5_000})).toMatchObject({pid: polite, outcome: 'stopped'})
    expect(await stopNode({dir, node: 'n2', graceMs: 200})).toMatchObject({pid: stubborn, outcome: 'killed'})
    expect((await readClusterFile(dir)).nodes.map((node) => node.pid)).toEqual([null, null])
  })

  it('start leaves a running node alone, and reports a node that dies at start with its log, recording no pid', async () => {
    const file = await clusterWith([null, null])
    const running = await standIn(file.nodes[0]!.configPath, {ignoreTerm: false})
    await clusterWith([running, null])
    expect(await startNode({dir, node: 'n1'})).toMatchObject({pid: running, outcome: 'alreadyRunning'})
    const failing = startNode({dir, node: 'n2', program: {file: process.execPath, args: ['-e', "console.log('cannot start'); process.exit(3)"]}})
    await expect(failing).rejects.toBeInstanceOf(NodeStartError)
    await expect(failing).rejects.toThrow(/node n2 did not start: it exited with code 3[\s\S]*cannot start/)
    expect((await readClusterFile(dir)).nodes[1]!.pid).toBeNull()
  })
})
