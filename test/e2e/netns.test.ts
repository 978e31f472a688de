// Multi-host end to end (DESIGN §9, §10.4; issue 5): four nodes on four addresses, each in
// a network namespace of its own joined by a bridge (netns-setup.ts), a client in a fifth.
// One node's link is cut: writes with W=2 through another node keep succeeding (sloppy
// quorum, with hints for the cut node); after the link returns the cut node catches up
// (hinted handoff, and read repair for writes that timed out on it before it was
// suspected). What the cut node holds is read from it alone: `admin.faults` isolates it
// and a get with R=1 through it can only answer from its own copy.
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {root} from '../commands/helpers.js'
import {createTestbed, cutLink, destroyTestbed, ensureIpCommand, restoreLink, startNode, waitServing, type Spawned, type Testbed, type TestbedNode} from './netns-setup.js'

const nodeNames = ['n1', 'n2', 'n3', 'n4']
/** How long the cut node may take to catch up once its link is back. */
const catchUpTimeoutMs = 30_000
const keysDuringCut = 30

let dir: string
let bed: Testbed | undefined
const processes: Spawned[] = []
let agent: Agent | undefined

/** The client process in the client namespace (netns-client.ts), one request at a time. */
class Agent {
  private nextId = 1
  private readonly waiting = new Map<number, (reply: Reply) => void>()
  readonly ready: Promise<void>

  constructor(private readonly io: {stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream}) {
    let markReady: () => void = () => {}
    this.ready = new Promise((resolve) => (markReady = resolve))
    createInterface({input: io.stdout}).on('line', (line) => {
      const reply = JSON.parse(line) as Reply & {ready?: boolean}
      if (reply.ready === true) return markReady()
      this.waiting.get(reply.id)?.(reply)
      this.waiting.delete(reply.id)
    })
  }

  call(request: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      this.io.stdin.write(`${JSON.stringify({...request, id})}\n`)
    })
  }

  async ok(request: Record<string, unknown>): Promise<unknown> {
    const reply = await this.call(request)
    if (!reply.ok) throw new Error(`${JSON.stringify(request)}: ${reply.code} ${reply.message}`)
    return reply.result
  }
}

type Reply = {id: number; ok: true; result: unknown} | {id: number; ok: false; code: string; message: string}

function nodeOf(name: string): TestbedNode {
  const node = bed?.nodes.find((each) => each.name === name)
  if (node === undefined) throw new Error(`no node ${name}`)
  return node
}

beforeAll(async () => {
  await ensureIpCommand()
  dir = await mkdtemp(join(tmpdir(), 'dyn-netns-'))
  bed = await createTestbed(nodeNames, dir)
  for (const node of bed.nodes) processes.push(await startNode({bed, node, dir, n: 3, r: 2, w: 2}))
  const child = execa('ip', ['netns', 'exec', bed.clientNamespace, process.execPath, '--import', 'tsx', join(root, 'test', 'e2e', 'netns-client.ts')], {
    cwd: root,
    reject: false,
    stdin: 'pipe',
    stderr: 'inherit',
  })
  processes.push({kill: (signal) => child.kill(signal), exited: child.then(() => undefined)})
  agent = new Agent({stdin: child.stdin, stdout: child.stdout})
  await Promise.all([...bed.nodes.map((node) => waitServing(node, 60_000)), agent.ready])
}, 90_000)

afterAll(async () => {
  agent = undefined
  for (const child of processes) child.kill('SIGKILL')
  await Promise.allSettled(processes.map((spawned) => spawned.exited))
  if (bed !== undefined) await destroyTestbed(bed)
  await rm(dir, {recursive: true, force: true})
})

describe('nodes on separate hosts (network namespaces)', () => {
  it('keeps accepting writes with W=2 while one link is cut, and the cut node catches up after it is restored', {timeout: 120_000}, async () => {
    const client = agent!
    const [n1, n3] = [nodeOf('n1'), nodeOf('n3')]
    for (const node of bed!.nodes) expect(await client.ok({op: 'admin', address: node.address, type: 'admin.status', payload: {}})).toMatchObject({name: node.name})

    await cutLink(bed!, n3)
    const unreachable = await client.call({op: 'get', address: n3.address, key: 'any'})
    expect(unreachable).toMatchObject({ok: false})
    const written = new Map<string, string>()
    let hintedForN3 = 0
    for (let index = 0; index < keysDuringCut; index++) {
      const key = `cut-${index}`
      const value = `value-${index}`
      const put = (await client.ok({op: 'put', address: n1.address, key, value, w: 2})) as {quorum: {ok: boolean; replies: {fallbackFor?: string}[]}}
      expect(put.quorum.ok, key).toBe(true)
      if (put.quorum.replies.some((reply) => reply.fallbackFor === 'n3')) hintedForN3++
      written.set(key, value)
    }
    // Once n1 suspects n3, writes for n3 go to a fallback with a hint.
    expect(hintedForN3).toBeGreaterThan(0)
    await restoreLink(bed!, n3)

    const primaries = (await client.ok({op: 'primaries', address: n1.address, keys: [...written.keys()]})) as Record<string, string[]>
    const n3Keys = [...written.keys()].filter((key) => primaries[key]?.includes('n3'))
    expect(n3Keys.length).toBeGreaterThan(0)
    expect(await caughtUp(client, n3, n3Keys, written)).toEqual([])
  })
})

/** Waits for the hints to drain and reads every key through n1 (read repair), then checks
 * n3's own copies with n3 isolated; repeats until none is missing or the time is up. */
async function caughtUp(client: Agent, n3: TestbedNode, keys: readonly string[], written: ReadonlyMap<string, string>): Promise<string[]> {
  const deadline = performance.now() + catchUpTimeoutMs
  const others = nodeNames.filter((name) => name !== n3.name)
  let missing: string[] = [...keys]
  while (missing.length > 0 && performance.now() < deadline) {
    await hintsDrained(client, deadline)
    for (const key of missing) await client.call({op: 'get', address: nodeOf('n1').address, key, r: 3})
    await sleep(500)
    await client.ok({op: 'admin', address: n3.address, type: 'admin.faults', payload: {cut: others}})
    try {
      const still: string[] = []
      for (const key of missing) {
        const read = await client.call({op: 'get', address: n3.address, key, r: 1})
        if (!read.ok || !(read.result as {values: string[]}).values.includes(written.get(key) ?? '')) still.push(key)
      }
      missing = still
    } finally {
      await client.ok({op: 'admin', address: n3.address, type: 'admin.faults', payload: {cut: []}})
    }
  }
  return missing
}

async function hintsDrained(client: Agent, deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    const statuses = await Promise.all(bed!.nodes.map((node) => client.call({op: 'admin', address: node.address, type: 'admin.status', payload: {}})))
    if (statuses.every((reply) => reply.ok && (reply.result as {hintsPending?: unknown}).hintsPending === 0)) return
    await sleep(250)
  }
}
