// Hostile and broken input against a live node (a real `dyn node start` process with a
// cluster secret): random bytes, huge declared lengths, truncated frames, valid frames of
// wrong types and payloads, a replayed hello and proof, and a crowd of connections that
// never say hello. The node must not crash, must keep serving a well-behaved client
// throughout, and its memory must stay bounded: its resident size before and after is
// printed, and a generous ceiling asserted.
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {connect as tcpConnect, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DynClient} from '../../src/client/index.js'
import {decodeBody, encodeFrame, FrameDecoder, type Envelope} from '../../src/net/codec.js'
import {nonceBytes, protocolVersion} from '../../src/net/constants.js'
import {makeProof} from '../../src/net/hello.js'
import {freePorts} from '../daemon/helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const host = '127.0.0.1'
const cluster = 'fuzz'
const secretText = 'a-cluster-secret-for-the-fuzz-test'
const secret = new TextEncoder().encode(secretText)

/** Connections opened and left without a hello: enough to show that the node holds them
 * without harm to its clients and closes them by the hello timeout. The test process and
 * the node each need a descriptor limit (`ulimit -n`) above this; the CI machines give
 * 20,000. */
const idleConnections = 1_500
/** A generous ceiling on what the node's resident memory may grow by through all of it. */
const rssGrowthMaxBytes = 256 * 1024 * 1024

let dir = ''
let node: ChildProcess | undefined
let wirePort = 0
let httpPort = 0
let client: DynClient
const sockets: Socket[] = []

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://${host}:${httpPort}/metrics`)).text()
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `))
  if (line === undefined) throw new Error(`no ${name} in /metrics`)
  return Number(line.slice(name.length + 1))
}

/** A raw connection that records the frames the node sends and when it closes. */
async function raw(): Promise<{socket: Socket; received: Envelope[]; closed: Promise<void>}> {
  const socket = tcpConnect({host, port: wirePort})
  sockets.push(socket)
  const received: Envelope[] = []
  const decoder = new FrameDecoder()
  socket.on('data', (chunk: Buffer) => {
    try {
      for (const body of decoder.push(chunk)) received.push(decodeBody(body))
    } catch {
      // What the node sends is not under test here.
    }
  })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return {socket, received, closed}
}

function helloFrame(nonce: Uint8Array, overrides: Record<string, unknown> = {}): Buffer {
  return encodeFrame({type: 'hello', id: 0, payload: {version: protocolVersion, cluster, role: 'client', name: 'fuzz', nonce, auth: true, ...overrides}})
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** One attack on a fresh connection. */
type Attack =
  | {kind: 'bytes'; bytes: Uint8Array}
  | {kind: 'huge length'; declared: number}
  | {kind: 'truncated'; cut: number}
  | {kind: 'wrong frame'; type: string; id: number; payload: unknown; withHello: boolean}

const attackArbitrary: fc.Arbitrary<Attack> = fc.oneof(
  fc.record({kind: fc.constant('bytes' as const), bytes: fc.uint8Array({minLength: 1, maxLength: 2048})}),
  fc.record({kind: fc.constant('huge length' as const), declared: fc.integer({min: 16 * 1024 * 1024 + 1, max: 0xffffffff})}),
  fc.record({kind: fc.constant('truncated' as const), cut: fc.integer({min: 1, max: 60})}),
  fc.record({
    kind: fc.constant('wrong frame' as const),
    type: fc.oneof(fc.constantFrom('kv.get', 'kv.put', 'replica.put', 'admin.faults', 'admin.stage', 'tree.keys', 'reply', 'auth', 'hello'), fc.string({maxLength: 20})),
    id: fc.oneof(fc.nat(), fc.integer({min: -5, max: -1})),
    payload: fc.anything({maxDepth: 3}),
    withHello: fc.boolean(),
  }),
)

async function run(attack: Attack): Promise<void> {
  const peer = await raw()
  const write = (bytes: Uint8Array): void => void peer.socket.write(bytes)
  switch (attack.kind) {
    case 'bytes':
      write(attack.bytes)
      break
    case 'huge length': {
      const header = Buffer.alloc(8)
      header.writeUInt32BE(attack.declared, 0)
      write(header)
      break
    }
    case 'truncated': {
      const frame = helloFrame(new Uint8Array(nonceBytes))
      write(frame.subarray(0, Math.min(attack.cut, frame.length - 1)))
      break
    }
    case 'wrong frame': {
      // Without the proof the node never opens the connection: the frames after the hello
      // meet the auth stage, and without the hello the hello stage.
      if (attack.withHello) write(helloFrame(new Uint8Array(nonceBytes)))
      try {
        write(encodeFrame({type: attack.type, id: attack.id, payload: attack.payload}))
      } catch {
        write(Buffer.from([0, 0, 0, 3, 0x93, 0xc1, 0xc1])) // an envelope msgpack cannot even encode
      }
      break
    }
  }
  peer.socket.end()
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-fuzz-'))
  ;[wirePort, httpPort] = (await freePorts(2)) as [number, number]
  const configPath = join(dir, 'node.json')
  await writeFile(
    configPath,
    JSON.stringify({
      cluster,
      name: 'n1',
      listen: {host, port: wirePort},
      http: {host, port: httpPort},
      dataDir: join(dir, 'data'),
      members: [{name: 'n1', address: `${host}:${wirePort}`}],
      n: 1,
      r: 1,
      w: 1,
      partitions: 8,
      secret: secretText,
    }),
  )
  node = spawn(process.execPath, [join(root, 'bin/run.js'), 'node', 'start', '--config', configPath], {stdio: ['ignore', 'ignore', 'ignore']})
  const deadline = Date.now() + 30_000
  for (;;) {
    if (node.exitCode !== null) throw new Error(`the node exited with ${node.exitCode}`)
    if (await fetch(`http://${host}:${httpPort}/health`).then((response) => response.ok, () => false)) break
    if (Date.now() > deadline) throw new Error('the node did not start')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  client = new DynClient({seeds: [`${host}:${wirePort}`], cluster, secret})
}, 40_000)

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await client?.close()
  if (node !== undefined && node.exitCode === null) {
    const exited = new Promise((resolve) => node!.once('exit', resolve))
    node.kill('SIGKILL')
    await exited
  }
  if (dir !== '') await rm(dir, {recursive: true, force: true})
})

describe('a live node under hostile input', () => {
  it('survives random and malformed frames, a replayed proof and a crowd of silent connections, serving a good client throughout', async () => {
    const rssBefore = await metric('dyn_process_resident_memory_bytes')
    // A well-behaved client reads and writes throughout; none of its requests may fail.
    let stop = false
    let served = 0
    const failures: unknown[] = []
    const good = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await client.put(`good-${i}`, `v${i}`)
          const read = await client.get(`good-${i}`)
          if (!read.found) failures.push(new Error(`good-${i} not found`))
          served++
        } catch (error) {
          failures.push(error)
        }
      }
    })()

    // A replayed hello and proof: recorded from a connection that authenticated, sent
    // again on a new one. The node's new nonce makes the old proof worthless.
    const nonce = new Uint8Array(nonceBytes).fill(7)
    const first = await raw()
    first.socket.write(helloFrame(nonce))
    await waitFor(() => first.received.some((envelope) => envelope.type === 'hello'), 5_000, 'the node saying hello')
    const nodeNonce = (first.received.find((envelope) => envelope.type === 'hello')!.payload as {nonce: Uint8Array}).nonce
    const proof = makeProof({secret, side: 'connector', cluster, ownNonce: nonce, peerNonce: nodeNonce})
    first.socket.write(encodeFrame({type: 'auth', id: 0, payload: {proof}}))
    await waitFor(() => first.received.some((envelope) => envelope.type === 'auth'), 5_000, 'the node accepting the proof')
    first.socket.end()
    const replay = await raw()
    replay.socket.write(Buffer.concat([helloFrame(nonce), encodeFrame({type: 'auth', id: 0, payload: {proof}})]))
    await replay.closed
    const refusal = replay.received.find((envelope) => envelope.type === 'error')
    expect((refusal?.payload as {code?: string} | undefined)?.code).toBe('AUTH_FAILED')

    // Connections that never say hello, left open. Opened a hundred at a time: a burst of
    // thousands overflows the kernel's accept queue, and the connections it drops stay
    // open on this side only, where the node cannot close them.
    const silent: Awaited<ReturnType<typeof raw>>[] = []
    for (let opened = 0; opened < idleConnections; opened += 100) {
      silent.push(...(await Promise.all(Array.from({length: 100}, () => raw()))))
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    // The node holds every one of them (its accept loop may be a moment behind).
    let held = 0
    for (let tries = 0; tries < 100 && held < idleConnections; tries++) {
      held = await metric('dyn_connections_open')
      if (held < idleConnections) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(held).toBeGreaterThanOrEqual(idleConnections)
    expect(node!.exitCode).toBeNull()

    // Random attacks, each on its own connection.
    await fc.assert(
      fc.asyncProperty(fc.array(attackArbitrary, {minLength: 20, maxLength: 40}), async (attacks) => {
        await Promise.all(attacks.map((attack) => run(attack)))
        expect(node!.exitCode).toBeNull()
      }),
      {numRuns: 10},
    )

    // The silent ones are closed by the hello timeout (5 s), not kept for ever.
    await Promise.all(silent.map((peer) => peer.closed))
    expect(await metric('dyn_connections_open')).toBeLessThan(10)
    stop = true
    await good
    expect(failures).toEqual([])
    expect(served).toBeGreaterThan(0)
    expect(await fetch(`http://${host}:${httpPort}/health`).then((response) => response.status)).toBe(200)
    const rssAfter = await metric('dyn_process_resident_memory_bytes')
    console.log(`node resident memory: ${(rssBefore / 2 ** 20).toFixed(1)} MiB before, ${(rssAfter / 2 ** 20).toFixed(1)} MiB after; ${served} good put+get pairs served meanwhile`)
    expect(rssAfter - rssBefore).toBeLessThan(rssGrowthMaxBytes)
  }, 60_000)
})
