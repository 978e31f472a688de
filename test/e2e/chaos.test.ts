// End-to-end chaos on real processes (DESIGN §5, §10.4; issue 5): a local cluster of five
// nodes with N=3, W=2. While clients write, nodes are crashed with SIGKILL and started
// again, and the cluster is partitioned and healed, all through the `dyn cluster` commands.
// Then no acknowledged write may be missing, and `dyn merkle diff` must show every pair of
// replicas equal within a bounded time.
//
// Writers and what "not lost" means for them:
//   - blind writers put unique values under unique keys: nothing can cover such a write, so
//     each acknowledged one must be among the key's siblings at the end;
//   - a chain writer does read-modify-write on a few keys of its own, putting with the
//     context it read; a put whose outcome is unknown (no ack) may still have been stored
//     and may then be covered by a later put's context. So for each key some sibling at the
//     end must be the last acknowledged put or a later attempt.
import {randomInt} from 'node:crypto'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DynClient} from '../../src/client/index.js'
import {clusterMembership, isAlive, killNode, startNode} from '../../src/cluster/index.js'
import {dyn, json, randomBasePort, type Run} from '../commands/helpers.js'

const nodeCount = 5
const nodeNames = Array.from({length: nodeCount}, (_, index) => `n${index + 1}`)
/** Wire ports base..base+4, HTTP ports 1000 above; random so parallel runs do not collide. */
const basePort = randomBasePort()
/** How long the read-back may wait for hints and read repair. */
const readBackTimeoutMs = 20_000
/** Q: the fewest partitions allowed. Anti-entropy compares one partition per exchange, an
 * exchange every 2 s or so per node (node/anti-entropy.ts), so with 8 partitions (about 5
 * per node) every replica pair is compared within seconds instead of minutes. */
const partitionCount = 8
/** How long `dyn merkle diff` may keep finding differences after the read-back: a few
 * rounds of anti-entropy over every partition. */
const convergeTimeoutMs = 40_000
const blindWriters = 3
const chainKeys = 4
/** Pause between one writer's puts: spreads a few hundred writes over the faults instead of
 * thousands, which keeps the final read-back within its bound. */
const writePauseMs = 60
/** Keys read back at once at the end. */
const readConcurrency = 16
/** `dyn merkle diff` runs at once. */
const diffConcurrency = 5

let dir: string
const pidsSeen = new Set<number>()

function expectOk(run: Run, what: string): Record<string, unknown> {
  expect(run.exitCode, `${what}: ${run.stderr}${run.stdout}`).toBe(0)
  return json(run)
}

async function cluster(args: readonly string[]): Promise<Record<string, unknown>> {
  const result = expectOk(await dyn(['cluster', ...args, '--dir', dir, '--json'], {timeoutMs: 60_000}), `cluster ${args.join(' ')}`)
  const pid = result.pid
  if (typeof pid === 'number') pidsSeen.add(pid)
  return result
}

function newClient(): DynClient {
  return new DynClient({seeds: nodeNames.map((_, index) => `127.0.0.1:${basePort + index}`), cluster: 'dyn', timeoutMs: 8_000})
}

function text(value: Uint8Array): string {
  return Buffer.from(value).toString('utf8')
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-chaos-'))
  const up = expectOk(
    await dyn(['cluster', 'up', '--dir', dir, '--nodes', String(nodeCount), '--n', '3', '--w', '2', '--partitions', String(partitionCount), '--base-port', String(basePort), '--json'], {timeoutMs: 60_000}),
    'cluster up',
  ) as {nodes: {pid: number}[]}
  for (const node of up.nodes) pidsSeen.add(node.pid)
})

afterAll(async () => {
  await dyn(['cluster', 'down', '--dir', dir, '--json'], {timeoutMs: 30_000}).catch(() => undefined)
  for (const pid of pidsSeen) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  await rm(dir, {recursive: true, force: true})
})

interface Ledger {
  /** key -> the unique value of its acknowledged blind put. */
  readonly blind: Map<string, string>
  /** chain key -> sequence number of its last acknowledged put. */
  readonly chainAcked: Map<string, number>
  attempts: number
  failures: number
}

async function blindWriter(writer: number, ledger: Ledger, running: () => boolean): Promise<void> {
  const client = newClient()
  try {
    for (let seq = 0; running(); seq++) {
      const key = `blind-${writer}-${seq}`
      const value = `${key}-${randomInt(1e9)}`
      ledger.attempts++
      try {
        await client.put(key, value)
        ledger.blind.set(key, value)
      } catch {
        ledger.failures++
      }
      await sleep(writePauseMs)
    }
  } finally {
    await client.close()
  }
}

async function chainWriter(ledger: Ledger, running: () => boolean): Promise<void> {
  const client = newClient()
  try {
    for (let seq = 0; running(); seq++) {
      const key = `chain-${seq % chainKeys}`
      ledger.attempts++
      try {
        const read = await client.get(key)
        await client.put(key, `${key}-${seq}`, {context: read.context})
        ledger.chainAcked.set(key, seq)
      } catch {
        ledger.failures++
      }
      await sleep(writePauseMs)
    }
  } finally {
    await client.close()
  }
}

/** The faults, one after another. Kill, partition and heal go through the command line;
 * starts call the function behind `dyn cluster start` in-process, because each command run
 * adds seconds of compilation to the node's own start on a loaded machine. */
async function nemesis(): Promise<void> {
  await sleep(1_000)
  expect(await cluster(['kill', 'n2'])).toMatchObject({name: 'n2', outcome: 'killed'})
  await start('n2')
  const split = await cluster(['partition', 'n1,n2'])
  expect(split.groups).toEqual([
    ['n1', 'n2'],
    ['n3', 'n4', 'n5'],
  ])
  // `cluster status` shows the cut, from each side.
  const cuts = new Map((await clusterMembership(dir)).nodes.map((node) => [node.name, node.cut]))
  expect([cuts.get('n1'), cuts.get('n4')]).toEqual([
    ['n3', 'n4', 'n5'],
    ['n1', 'n2'],
  ])
  await sleep(2_000)
  // A crash inside the partition: n4 comes back still cut off (its own cut survives the
  // restart, and `cluster start` tells it the recorded one) and shows it.
  expect(await killNode({dir, node: 'n4'})).toMatchObject({outcome: 'killed'})
  await sleep(1_000)
  await start('n4')
  expect((await clusterMembership(dir)).nodes.find((node) => node.name === 'n4')?.cut).toEqual(['n1', 'n2'])
  // n5 is down while the cut heals: it would come back with its old cut, but `cluster
  // start` tells it the healed one.
  expect(await killNode({dir, node: 'n5'})).toMatchObject({outcome: 'killed'})
  await cluster(['heal'])
  await start('n5')
  expect((await clusterMembership(dir)).nodes.find((node) => node.name === 'n5')?.cut).toEqual([])
  await sleep(1_000)
}

async function start(node: string): Promise<void> {
  const started = await startNode({dir, node})
  pidsSeen.add(started.pid)
  expect(started.outcome).toBe('started')
}

type Check = () => Promise<string | undefined>

/** One check per acknowledged write: undefined when it reads back with R=N, else the problem. */
function readChecks(ledger: Ledger, client: DynClient): Check[] {
  const blind = [...ledger.blind].map(([key, value]): Check => async () => {
    const read = await client.get(key, {r: 3}).catch(() => undefined)
    return read?.siblings.some((sibling) => text(sibling.value) === value) === true ? undefined : `${key}: ${value} not read`
  })
  const chain = [...ledger.chainAcked].map(([key, acked]): Check => async () => {
    const read = await client.get(key, {r: 3}).catch(() => undefined)
    const seqs = (read?.siblings ?? []).map((sibling) => Number(text(sibling.value).split('-').at(-1)))
    return seqs.some((seq) => seq >= acked) ? undefined : `${key}: last acknowledged put ${acked}, read ${seqs.join(',') || 'nothing'}`
  })
  return [...blind, ...chain]
}

/** Runs the checks, a few at a time, again and again for those that fail, until all pass or
 * the time is up; returns the problems left. */
async function untilAllPass(checks: readonly Check[], timeoutMs: number): Promise<string[]> {
  const deadline = performance.now() + timeoutMs
  let pending = [...checks]
  let problems: string[] = []
  for (;;) {
    const failed: Check[] = []
    problems = []
    for (let index = 0; index < pending.length; index += readConcurrency) {
      const batch = pending.slice(index, index + readConcurrency)
      const results = await Promise.all(batch.map((check) => check()))
      results.forEach((problem, offset) => {
        if (problem === undefined) return
        failed.push(batch[offset]!)
        problems.push(problem)
      })
    }
    pending = failed
    if (pending.length === 0 || performance.now() > deadline) return problems
    await sleep(500)
  }
}

/** Pairs of nodes whose trees still differ, by `dyn merkle diff A B --json`. */
async function differingPairs(pairs: readonly (readonly [string, string])[]): Promise<string[]> {
  const differing: string[] = []
  // A few at a time: each run is a process of its own on a machine running five nodes.
  for (let index = 0; index < pairs.length; index += diffConcurrency) {
    const runs = await Promise.all(pairs.slice(index, index + diffConcurrency).map(([a, b]) => dyn(['merkle', 'diff', a, b, '--dir', dir, '--json'], {timeoutMs: 30_000})))
    runs.forEach((run, offset) => {
      const [a, b] = pairs[index + offset] ?? ['?', '?']
      const shape = run.exitCode === 0 ? (json(run) as {differences?: unknown}) : {}
      if (shape.differences !== 0) differing.push(`${a}/${b}: exit ${run.exitCode} ${run.stdout.slice(0, 300)}${run.stderr.slice(0, 300)}`)
    })
  }
  return differing
}

describe('chaos on a five-node cluster (N=3, W=2)', () => {
  it('loses no acknowledged write through kills, restarts, partitions and heals, and its replicas converge', {timeout: 120_000}, async () => {
    const ledger: Ledger = {blind: new Map(), chainAcked: new Map(), attempts: 0, failures: 0}
    let writing = true
    const running = (): boolean => writing
    const writers = [...Array.from({length: blindWriters}, (_, writer) => blindWriter(writer, ledger, running)), chainWriter(ledger, running)]
    try {
      await nemesis()
    } finally {
      writing = false
      await Promise.all(writers)
    }
    // The workload really ran through the faults.
    expect(ledger.blind.size).toBeGreaterThan(50)
    expect(ledger.chainAcked.size).toBe(chainKeys)
    // Sloppy quorum keeps the cluster writable: only writes caught in flight by a crash or by
    // the first timeouts of the cut fail (a handful in a run of hundreds).
    expect(ledger.failures, `${ledger.failures} of ${ledger.attempts} writes failed`).toBeLessThan(ledger.attempts / 4)

    const client = newClient()
    try {
      expect(await untilAllPass(readChecks(ledger, client), readBackTimeoutMs)).toEqual([])
    } finally {
      await client.close()
    }

    const pairs = nodeNames.flatMap((a, index) => nodeNames.slice(index + 1).map((b) => [a, b] as const))
    const deadline = performance.now() + convergeTimeoutMs
    let differing = await differingPairs(pairs)
    while (differing.length > 0 && performance.now() < deadline) {
      await sleep(1_000)
      differing = await differingPairs(pairs.filter(([a, b]) => differing.some((line) => line.startsWith(`${a}/${b}:`))))
    }
    expect(differing).toEqual([])
  })
})
