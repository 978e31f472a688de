// Cluster benchmark (not a test): a local 3-node dyn cluster, N=3 R=2 W=2, sync=always,
// 1 KiB values, closed-loop clients at several concurrencies; get and put throughput and
// latency percentiles, with the client sending every request to any node (the node
// forwards when it does not replicate the key) and with the partition-aware client (sends
// straight to the key's coordinator). In the same run, a 3-member etcd cluster on the same
// machine takes a comparable put/get load through its JSON gateway, and dyn's numbers are
// reported as ratios to it.
//
//   npm run bench:cluster                  table
//   npm run bench:cluster -- --json        {"results":[...]}
//   npm run bench:cluster -- --seconds 3   shorter runs
//
// Needs the built program (npm run build, done by the script) and, for the etcd rows, the
// `etcd` binary (Debian's etcd-server); without it those rows are left out and said so.
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp, mkdir, rm, writeFile} from 'node:fs/promises'
import {Agent, request as httpRequest} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'
import {DynClient} from '../src/client/index.js'

const args = process.argv.slice(2)
const json = args.includes('--json')
const secondsIndex = args.indexOf('--seconds')
const runSeconds = secondsIndex >= 0 ? Number(args[secondsIndex + 1]) : 5
const concurrencies = [1, 16, 64]
const valueBytes = 1024
const preloadKeys = 10_000
const basePort = 27_000 + Math.floor(Math.random() * 1000) * 10
const root = fileURLToPath(new URL('..', import.meta.url))

interface Row {
  system: string
  op: 'get' | 'put'
  concurrency: number
  opsPerSecond: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  errors: number
}

const children: ChildProcess[] = []
const log = (line: string): void => {
  if (!json) process.stderr.write(`${line}\n`)
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!
}

/** Runs `concurrency` workers in a closed loop for runSeconds; each calls op(i) repeatedly. */
async function closedLoop(concurrency: number, op: (worker: number, i: number) => Promise<void>): Promise<Omit<Row, 'system' | 'op' | 'concurrency'>> {
  const latencies: number[] = []
  let errors = 0
  const endAt = performance.now() + runSeconds * 1000
  const startedAt = performance.now()
  await Promise.all(
    Array.from({length: concurrency}, async (_, worker) => {
      for (let i = 0; performance.now() < endAt; i++) {
        const start = performance.now()
        try {
          await op(worker, i)
          latencies.push(performance.now() - start)
        } catch {
          errors++
        }
      }
    }),
  )
  const elapsedS = (performance.now() - startedAt) / 1000
  const sorted = Float64Array.from(latencies).sort()
  return {
    opsPerSecond: latencies.length / elapsedS,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    errors,
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url)
  return response.ok
}

function keyOf(i: number): string {
  return `bench-key-${i % preloadKeys}`
}

// ---- dyn ----

async function startDyn(dir: string): Promise<string[]> {
  const names = ['n1', 'n2', 'n3']
  const members = names.map((name, i) => ({name, address: `127.0.0.1:${basePort + i}`, weight: 1}))
  for (const [i, name] of names.entries()) {
    const nodeDir = join(dir, name)
    await mkdir(nodeDir, {recursive: true})
    const config = {
      cluster: 'bench',
      name,
      listen: {host: '127.0.0.1', port: basePort + i},
      http: {host: '127.0.0.1', port: basePort + 100 + i},
      dataDir: join(nodeDir, 'data'),
      members,
      n: 3,
      r: 2,
      w: 2,
      partitions: 64,
      sync: 'always',
    }
    await writeFile(join(nodeDir, 'node.json'), JSON.stringify(config))
    const child = spawn(process.execPath, [join(root, 'bin/run.js'), 'node', 'start', '--config', join(nodeDir, 'node.json')], {
      stdio: 'ignore',
    })
    children.push(child)
  }
  for (let i = 0; i < names.length; i++) {
    await waitFor(() => httpOk(`http://127.0.0.1:${basePort + 100 + i}/health`), `dyn node n${i + 1}`)
  }
  return members.map((member) => member.address)
}

async function benchDyn(addresses: string[], rows: Row[]): Promise<void> {
  const value = new Uint8Array(valueBytes).fill(120)
  const partitionAware = new DynClient({seeds: addresses, cluster: 'bench', routing: 'partition-aware'})
  // "Any node": each worker sticks to one node, spread evenly, and that node coordinates or forwards.
  const direct = addresses.map((address) => new DynClient({seeds: [address], cluster: 'bench', routing: 'direct'}))
  log(`dyn: preloading ${preloadKeys} keys`)
  for (let i = 0; i < preloadKeys; i += 64) {
    await Promise.all(Array.from({length: Math.min(64, preloadKeys - i)}, (_, j) => partitionAware.put(keyOf(i + j), value)))
  }
  const modes: Array<[string, (worker: number) => DynClient]> = [
    ['dyn any-node', (worker) => direct[worker % direct.length]!],
    ['dyn partition-aware', () => partitionAware],
  ]
  let unique = 0
  for (const [system, clientFor] of modes) {
    for (const concurrency of concurrencies) {
      // Blind puts to fresh keys: no siblings pile up, every put is one durable write per replica.
      const put = await closedLoop(concurrency, async (worker) => {
        await clientFor(worker).put(`bench-put-${unique++}`, value)
      })
      rows.push({system, op: 'put', concurrency, ...put})
      log(`${system} put c=${concurrency}: ${put.opsPerSecond.toFixed(0)} ops/s p99 ${put.p99Ms.toFixed(2)} ms`)
      const get = await closedLoop(concurrency, async (worker, i) => {
        const result = await clientFor(worker).get(keyOf(worker * 7919 + i * 104_729))
        if (!result.found) throw new Error('preloaded key not found')
      })
      rows.push({system, op: 'get', concurrency, ...get})
      log(`${system} get c=${concurrency}: ${get.opsPerSecond.toFixed(0)} ops/s p99 ${get.p99Ms.toFixed(2)} ms`)
    }
  }
  await partitionAware.close()
  await Promise.all(direct.map((client) => client.close()))
}

// ---- etcd ----

async function startEtcd(dir: string): Promise<string[] | undefined> {
  if (!existsSync('/usr/bin/etcd')) {
    log('etcd not found (install Debian package etcd-server): etcd rows left out')
    return undefined
  }
  const names = ['e1', 'e2', 'e3']
  const peer = (i: number): string => `http://127.0.0.1:${basePort + 200 + i}`
  const client = (i: number): string => `http://127.0.0.1:${basePort + 300 + i}`
  const initial = names.map((name, i) => `${name}=${peer(i)}`).join(',')
  for (const [i, name] of names.entries()) {
    const child = spawn(
      '/usr/bin/etcd',
      [
        '--name', name,
        '--data-dir', join(dir, name),
        '--listen-peer-urls', peer(i),
        '--initial-advertise-peer-urls', peer(i),
        '--listen-client-urls', client(i),
        '--advertise-client-urls', client(i),
        '--initial-cluster', initial,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', 'dyn-bench',
      ],
      {stdio: 'ignore'},
    )
    children.push(child)
  }
  for (let i = 0; i < names.length; i++) await waitFor(() => httpOk(`${client(i)}/health`), `etcd member ${names[i]}`)
  return names.map((_, i) => client(i))
}

const agent = new Agent({keepAlive: true, maxSockets: 256})

function etcdCall(base: string, path: string, body: object): Promise<Record<string, unknown>> {
  const payload = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, {method: 'POST', agent, headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(payload)}}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`etcd ${path}: HTTP ${res.statusCode}`))
        else resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

const b64 = (text: string): string => Buffer.from(text).toString('base64')

async function benchEtcd(clients: string[], rows: Row[]): Promise<void> {
  const value = Buffer.alloc(valueBytes, 120).toString('base64')
  log(`etcd: preloading ${preloadKeys} keys`)
  for (let i = 0; i < preloadKeys; i += 64) {
    await Promise.all(
      Array.from({length: Math.min(64, preloadKeys - i)}, (_, j) => etcdCall(clients[(i + j) % clients.length]!, '/v3/kv/put', {key: b64(keyOf(i + j)), value})),
    )
  }
  let unique = 0
  for (const concurrency of concurrencies) {
    const put = await closedLoop(concurrency, async (worker) => {
      await etcdCall(clients[worker % clients.length]!, '/v3/kv/put', {key: b64(`bench-put-${unique++}`), value})
    })
    rows.push({system: 'etcd', op: 'put', concurrency, ...put})
    log(`etcd put c=${concurrency}: ${put.opsPerSecond.toFixed(0)} ops/s p99 ${put.p99Ms.toFixed(2)} ms`)
    const get = await closedLoop(concurrency, async (worker, i) => {
      const result = await etcdCall(clients[worker % clients.length]!, '/v3/kv/range', {key: b64(keyOf(worker * 7919 + i * 104_729))})
      if (result.kvs === undefined) throw new Error('preloaded key not found')
    })
    rows.push({system: 'etcd', op: 'get', concurrency, ...get})
    log(`etcd get c=${concurrency}: ${get.opsPerSecond.toFixed(0)} ops/s p99 ${get.p99Ms.toFixed(2)} ms`)
  }
}

// ---- report ----

function ratios(rows: Row[]): Array<{system: string; op: string; concurrency: number; throughputVsEtcd: number; p99VsEtcd: number}> {
  return rows
    .filter((row) => row.system !== 'etcd')
    .flatMap((row) => {
      const peer = rows.find((other) => other.system === 'etcd' && other.op === row.op && other.concurrency === row.concurrency)
      return peer === undefined ? [] : [{system: row.system, op: row.op, concurrency: row.concurrency, throughputVsEtcd: row.opsPerSecond / peer.opsPerSecond, p99VsEtcd: row.p99Ms / peer.p99Ms}]
    })
}

function printTable(rows: Row[]): void {
  const header = ['system', 'op', 'conc', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors']
  console.log(header.map((h) => h.padStart(h === 'system' ? 20 : 9)).join(''))
  for (const row of rows) {
    console.log(
      [row.system.padStart(20), row.op.padStart(9), String(row.concurrency).padStart(9), row.opsPerSecond.toFixed(0).padStart(9),
        row.p50Ms.toFixed(2).padStart(9), row.p99Ms.toFixed(2).padStart(9), row.p999Ms.toFixed(2).padStart(9), String(row.errors).padStart(9)].join(''),
    )
  }
  const relative = ratios(rows)
  if (relative.length === 0) return
  console.log('\nratios to etcd (throughput higher is better, p99 lower is better)')
  for (const row of relative) {
    console.log(`${row.system.padStart(20)} ${row.op.padStart(4)} c=${String(row.concurrency).padEnd(3)} throughput ${row.throughputVsEtcd.toFixed(2)}x  p99 ${row.p99VsEtcd.toFixed(2)}x`)
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dyn-bench-cluster-'))
  const rows: Row[] = []
  try {
    await benchDyn(await startDyn(join(dir, 'dyn')), rows)
    const etcd = await startEtcd(join(dir, 'etcd'))
    if (etcd !== undefined) await benchEtcd(etcd, rows)
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await sleep(1000)
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    agent.destroy()
    await rm(dir, {recursive: true, force: true})
  }
  if (json) console.log(JSON.stringify({results: rows, ratios: ratios(rows)}))
  else printTable(rows)
}

await main()
