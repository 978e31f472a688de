// `dyn top` against a real local cluster: a JSON snapshot, JSON lines whose rates see the
// puts made meanwhile, the text snapshot of a pipe, --host with HTTP admin addresses, the
// exit codes; and the live view in a real terminal (tmux, installed from Debian when
// missing): it shows every node, its numbers change after puts, and `q` quits and gives the
// terminal back.
import {execFileSync} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DynClient} from '../../src/client/index.js'
import {addressOf, httpAddressOf, isAlive, readClusterFile} from '../../src/cluster/index.js'
import {dyn, json, randomBasePort, root} from '../commands/helpers.js'
import {ensureProgram} from './debian.js'

let dir: string
let client: DynClient
const basePort = randomBasePort()

interface TopNode {
  name: string
  httpAddress: string
  state: string
  keys: number | null
  perSecond: {get: number | null; put: number | null}
  latencyMs: {put: {p50: number; p99: number} | null}
  quorumFailures: {total: number | null}
  memory: {rssBytes: number | null}
  disk: {freeBytes: number | null}
  antiEntropy: {partitionsCompared: number} | null
}

interface TopDocument {
  version: number
  cluster: string
  intervalMs: number
  totals: {perSecond: {put: number | null}}
  nodes: TopNode[]
}

/** Puts `count` keys named PREFIX-0.. through the partition-aware client. */
async function putKeys(prefix: string, count: number): Promise<void> {
  for (let index = 0; index < count; index++) await client.put(`${prefix}-${index}`, 'v')
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-top-'))
  const up = await dyn(['cluster', 'up', '--dir', dir, '--base-port', String(basePort), '--sync', 'none', '--json'], {timeoutMs: 60_000})
  expect(up.exitCode, up.stderr + up.stdout).toBe(0)
  const file = await readClusterFile(dir)
  client = new DynClient({seeds: file.nodes.map(addressOf), cluster: file.cluster})
}, 90_000)

afterAll(async () => {
  await client?.close()
  const file = await readClusterFile(dir).catch(() => undefined)
  await dyn(['cluster', 'down', '--dir', dir]).catch(() => undefined)
  for (const node of file?.nodes ?? []) if (node.pid !== null && isAlive(node.pid)) process.kill(node.pid, 'SIGKILL')
  await rm(dir, {recursive: true, force: true})
})

describe('dyn top for scripts', () => {
  it('prints one JSON snapshot of every node', async () => {
    await putKeys('snapshot', 5)
    const run = await dyn(['top', '--dir', dir, '--json', '--interval', '200'])
    expect(run.exitCode, run.stderr).toBe(0)
    const document = json(run) as unknown as TopDocument
    expect(document).toMatchObject({version: 1, cluster: 'dyn', intervalMs: 200})
    expect(document.nodes.map((node) => [node.name, node.state])).toEqual([['n1', 'serving'], ['n2', 'serving'], ['n3', 'serving']])
    for (const node of document.nodes) {
      // N = 3 of 3 nodes: every node holds every key.
      expect(node.keys).toBeGreaterThanOrEqual(5)
      expect(node.perSecond.get).toEqual(expect.any(Number))
      expect(node.quorumFailures.total).toBe(0)
      expect(node.memory.rssBytes).toBeGreaterThan(0)
      expect(node.disk.freeBytes).toBeGreaterThan(0)
      expect(node.antiEntropy?.partitionsCompared).toEqual(expect.any(Number))
    }
  }, 60_000)

  it('prints --samples N as JSON lines whose rates see the puts made meanwhile', async () => {
    let done = false
    const running = dyn(['top', '--dir', dir, '--json', '--interval', '300', '--samples', '6'], {timeoutMs: 60_000}).finally(() => (done = true))
    let written = 0
    // Puts until top is done (bounded by its own timeout), so that every sample sees some.
    while (!done) {
      await putKeys(`lines-${written}`, 10)
      written += 10
      await sleep(20)
    }
    const run = await running
    expect(run.exitCode, run.stderr).toBe(0)
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as TopDocument)
    expect(lines).toHaveLength(6)
    expect(written).toBeGreaterThan(0)
    expect(lines.some((line) => (line.totals.perSecond.put ?? 0) > 0)).toBe(true)
    expect(lines.some((line) => line.nodes.some((node) => node.latencyMs.put !== null && node.latencyMs.put.p99 >= node.latencyMs.put.p50))).toBe(true)
    const keys = (line: TopDocument): number => line.nodes[0]?.keys ?? 0
    expect(keys(lines.at(-1)!)).toBeGreaterThan(keys(lines[0]!))
  }, 60_000)

  it('prints a text snapshot without colour when standard output is not a terminal', async () => {
    const run = await dyn(['top', '--dir', dir, '--interval', '200'])
    expect(run.exitCode, run.stderr).toBe(0)
    expect(run.stdout).not.toContain('\x1b')
    expect(run.stdout).toMatch(/^dyn top {2}cluster dyn/u)
    for (const name of ['n1', 'n2', 'n3']) expect(run.stdout).toMatch(new RegExp(`^${name}\\s+serving\\s+\\d+`, 'mu'))
    expect(run.stdout).toMatch(/^NODE\s+HINTS\s+DRAINED\/S\s+AE COMPARED/mu)
  }, 60_000)

  it('looks at nodes by their HTTP admin address with --host, and says which did not answer', async () => {
    const file = await readClusterFile(dir)
    const [n1, n2] = file.nodes.map(httpAddressOf)
    const closed = `127.0.0.1:${await closedPort()}`
    const [both, mixed, none] = await Promise.all([
      dyn(['top', '--host', `${n1},${n2}`, '--json', '--interval', '200']),
      dyn(['top', '--host', n1!, '--host', closed, '--json', '--interval', '200']),
      dyn(['top', '--host', closed, '--json', '--interval', '200']),
    ])
    expect(both.exitCode, both.stderr).toBe(0)
    expect((json(both) as unknown as TopDocument).nodes.map((node) => [node.name, node.httpAddress, node.state])).toEqual([['n1', n1, 'serving'], ['n2', n2, 'serving']])
    expect((json(both) as Record<string, unknown>)['hosts']).toEqual([n1, n2])
    expect(mixed.exitCode, mixed.stderr).toBe(0)
    expect((json(mixed) as unknown as TopDocument).nodes.map((node) => [node.name, node.state])).toEqual([['n1', 'serving'], [closed, 'unreachable']])
    expect(none.exitCode).toBe(1)
    expect(json(none)).toMatchObject({error: {code: 'NO_NODE_RUNNING', exitCode: 1}})
  }, 60_000)

  it('exits 1 without a cluster and 2 for a flag out of range, in both modes', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'dyn-top-empty-'))
    try {
      const [text, asJson, usage, address] = await Promise.all([
        dyn(['top', '--dir', empty]),
        dyn(['top', '--dir', empty, '--json']),
        dyn(['top', '--dir', dir, '--interval', '5', '--json']),
        dyn(['top', '--host', 'nowhere']),
      ])
      expect(text.exitCode).toBe(1)
      expect(text.stderr).toMatch(/no local cluster/u)
      expect(asJson.exitCode).toBe(1)
      expect(json(asJson)).toMatchObject({error: {code: 'CLUSTER_NOT_FOUND'}})
      expect(usage.exitCode).toBe(2)
      expect(json(usage)).toMatchObject({error: {code: 'USAGE'}})
      expect(address.exitCode).toBe(2)
    } finally {
      await rm(empty, {recursive: true, force: true})
    }
  }, 60_000)
})

// ---- a real terminal ----

const tmuxSocket = `dyn-top-test-${process.pid}`

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', tmuxSocket, ...args], {encoding: 'utf8'})
}

function screen(): string {
  return tmux('capture-pane', '-p', '-J', '-t', 'top').replace(/\s+$/u, '')
}

/** Waits until the pane shows what `found` finds; fails with the pane's text otherwise. */
async function waitFor<T>(what: string, found: (screen: string) => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let text = ''
  while (Date.now() < deadline) {
    text = screen()
    const result = found(text)
    if (result !== undefined) return result
    await sleep(100)
  }
  throw new Error(`the terminal never showed ${what}:\n${text}`)
}

/** The KEYS column of each node's row in the first table. */
function keysShown(text: string): Map<string, number> | undefined {
  const rows = [...text.matchAll(/^(n[123])\s+serving\s+([\d,]+)\s/gmu)]
  if (rows.length < 3) return undefined
  return new Map(rows.map((match) => [match[1]!, Number(match[2]!.replace(/,/gu, ''))]))
}

describe('dyn top in a terminal', () => {
  it('shows every node, numbers that change after puts, and quits with q or Ctrl-C, restoring the terminal', async () => {
    await ensureProgram('tmux', '-V', 'tmux')
    const top = `${process.execPath} --import tsx ${join(root, 'bin', 'dev.js')} top --dir ${dir} --interval 300`
    // Twice: once left with q, then (after Enter) with Ctrl-C.
    const command = `${top}; echo TOP-EXIT=$?; read line; ${top}; echo CTRL-C-EXIT=$?; sleep 60`
    tmux('new-session', '-d', '-s', 'top', '-x', '180', '-y', '50', '-c', root, `env TERM=xterm LANG=C.UTF-8 sh -c '${command}'`)
    try {
      const before = await waitFor('a row for each node', keysShown)
      expect(screen()).toMatch(/^dyn top {2}cluster dyn .* 3 nodes {2}every 300 ms/mu)
      expect(screen()).toMatch(/^NODE\s+OPS\/S, LAST/mu)
      await putKeys('terminal', 7)
      // Every node holds every key (N = 3 of 3): the KEYS column of each grows by 7.
      const after = await waitFor('the keys of the puts', (text) => {
        const shown = keysShown(text)
        return shown !== undefined && [...before].every(([name, keys]) => shown.get(name) === keys + 7) ? shown : undefined
      })
      expect([...after.keys()].sort()).toEqual(['n1', 'n2', 'n3'])
      tmux('send-keys', '-t', 'top', 'q')
      const left = await waitFor('the exit code', (text) => (/TOP-EXIT=0/u.test(text) ? text : undefined))
      // The alternate screen is gone: the shell's screen is back, without the view.
      expect(left).not.toMatch(/NODE\s+STATE/u)
      tmux('send-keys', '-t', 'top', 'Enter')
      await waitFor('the view again', (text) => (/NODE\s+STATE/u.test(text) ? text : undefined))
      tmux('send-keys', '-t', 'top', 'C-c')
      const interrupted = await waitFor('the exit code after Ctrl-C', (text) => (/CTRL-C-EXIT=0/u.test(text) ? text : undefined))
      expect(interrupted).not.toMatch(/NODE\s+STATE/u)
    } finally {
      tmux('kill-server')
    }
  }, 90_000)
})

/** A port nothing listens on (bound to 0, read, closed). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen({host: '127.0.0.1', port: 0}, resolve))
  const {port} = server.address() as {port: number}
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}


