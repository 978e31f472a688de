// A TLS cluster as real processes (DESIGN §11, docs/deploy.md): `dyn init --tls` makes the
// CA and each node's certificate, two nodes with mutual TLS replicate every write to each
// other (W=2: node-to-node TLS with the nodes' own certificates), and the commands: put
// and get with the TLS flags or DYN_TLS_*, a plaintext client told that the port wants
// TLS, a client without a certificate refused, the admin port over HTTPS, and a node
// refusing to listen off loopback with neither a secret nor TLS (exit code 2). One cluster
// for the file; the built program (bin/run.js, dist), as installed.
import {mkdtemp, readFile, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {probeHealth} from '../../src/cluster/index.js'
import {initTemplate} from '../../src/commands/init.js'
import {root} from '../commands/helpers.js'
import {freePorts} from '../daemon/helpers.js'

/** How long a node may take to answer /health on a loaded 2-core machine. */
const healthyTimeoutMs = 20_000

const program = join(root, 'bin', 'run.js')
/** Variables of the caller that would change what a command does. */
const cleanEnv = {DYN_HOST: undefined, DYN_DIR: undefined, DYN_CLUSTER: undefined, DYN_SECRET_FILE: undefined, DYN_TLS_CA: undefined, DYN_TLS_CERT: undefined, DYN_TLS_KEY: undefined}

interface Run {
  exitCode: number
  stdout: string
  stderr: string
}

async function dyn(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const result = await execa(process.execPath, [program, ...args], {cwd: root, env: {...process.env, ...cleanEnv, ...env}, extendEnv: false, reject: false, timeout: 30_000, stdin: 'ignore'})
  return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr)}
}

let dir: string
let caDir: string
const nodes: {kill: () => void; exited: Promise<unknown>}[] = []
let wire1 = ''
let http1 = ''
let tlsFlags: string[] = []
let tlsEnv: Record<string, string> = {}
let ca: Buffer
/** The refused start, run while the cluster starts. */
let refusedStart: Promise<Run>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-tls-e2e-'))
  caDir = join(dir, 'ca')
  const [w1, w2, h1, h2] = await freePorts(4)
  wire1 = `127.0.0.1:${w1}`
  http1 = `127.0.0.1:${h1}`
  const members = `n1@127.0.0.1:${w1},n2@127.0.0.1:${w2}`
  const flags = (name: string, wire: number | undefined, http: number | undefined) => ({
    name, listen: `127.0.0.1:${wire}`, http: `127.0.0.1:${http}`, members, n: 2, r: 1, w: 2, partitions: 8, sync: 'none', 'data-dir': join(dir, name, 'data'), 'tls-dir': caDir, out: join(dir, name),
  })
  // n1 by the program, which makes the CA; n2 by the same code in this process, signed by it.
  const made = await dyn(['init', '--template', 'node', '--tls', ...Object.entries(flags('n1', w1, h1)).flatMap(([flag, value]) => [`--${flag}`, String(value)]), '--json'])
  expect(made.exitCode, made.stderr + made.stdout).toBe(0)
  expect(JSON.parse(made.stdout)).toMatchObject({tls: {caCreated: true}})
  expect((await initTemplate({template: 'node', flags: flags('n2', w2, h2), force: false, tls: true})).tls).toMatchObject({caCreated: false})
  tlsFlags = ['--tls-ca', join(caDir, 'ca.pem'), '--tls-cert', join(caDir, 'client.pem'), '--tls-key', join(caDir, 'client-key.pem')]
  tlsEnv = {DYN_TLS_CA: join(caDir, 'ca.pem'), DYN_TLS_CERT: join(caDir, 'client.pem'), DYN_TLS_KEY: join(caDir, 'client-key.pem')}
  ca = await readFile(join(caDir, 'ca.pem'))
  const [openPort] = await freePorts(1)
  refusedStart = dyn(['node', 'start', '--name', 'open', '--host', '0.0.0.0', '--port', String(openPort), '--data-dir', join(dir, 'open'), '--n', '1', '--r', '1', '--w', '1'])
  for (const name of ['n1', 'n2']) {
    const child = execa(process.execPath, [program, 'node', 'start', '--config', join(dir, name, 'node.json')], {reject: false, stdin: 'ignore', all: true})
    nodes.push({kill: () => void child.kill('SIGKILL'), exited: child})
  }
  const deadline = performance.now() + healthyTimeoutMs
  for (const http of [http1, `127.0.0.1:${h2}`]) {
    while (!(await probeHealth(http, {tls: {ca}})).ok) {
      if (performance.now() > deadline) throw new Error(`the node at ${http} did not answer https://${http}/health`)
      await sleep(50)
    }
  }
}, 60_000)

afterAll(async () => {
  for (const node of nodes) node.kill()
  await Promise.allSettled(nodes.map((node) => node.exited))
  await rm(dir, {recursive: true, force: true})
})

describe('a TLS cluster made by dyn init --tls', () => {
  it('writes the CA, the node certificates and keys readable by their owner only, and a configuration that uses them', async () => {
    for (const key of [join(caDir, 'ca-key.pem'), join(caDir, 'client-key.pem'), join(dir, 'n1', 'n1-key.pem')]) expect((await stat(key)).mode & 0o777).toBe(0o600)
    const config = JSON.parse(await readFile(join(dir, 'n1', 'node.json'), 'utf8')) as unknown
    expect(config).toMatchObject({tls: {cert: 'n1.pem', key: 'n1-key.pem', ca: 'ca.pem', requireClientCert: true}})
  })

  it('serves put and get with the TLS flags or DYN_TLS_*, replicated to the other node over TLS', async () => {
    const put = await dyn(['put', 'tls-key', 'secret-value', '--host', wire1, ...tlsFlags, '--json'])
    expect(put.exitCode, put.stderr + put.stdout).toBe(0)
    expect(JSON.parse(put.stdout)).toMatchObject({quorum: {ok: true, w: 2}})
    const get = await dyn(['get', 'tls-key', '--host', wire1, '--json'], tlsEnv)
    expect(get.exitCode, get.stderr + get.stdout).toBe(0)
    expect(JSON.parse(get.stdout)).toMatchObject({found: true, siblings: [{value: 'secret-value'}]})
    // A second blind put makes siblings; `dyn conflicts` lists the key and suggests a resolve
    // that reaches the nodes the same way, TLS flags included.
    expect((await dyn(['put', 'tls-key', 'other-value', '--host', wire1, ...tlsFlags])).exitCode).toBe(0)
    const conflicts = await dyn(['conflicts', '--host', wire1, ...tlsFlags])
    expect(conflicts.exitCode, conflicts.stderr + conflicts.stdout).toBe(0)
    expect(conflicts.stdout).toContain(`resolve tls-key --host ${wire1} ${tlsFlags.join(' ')}`)
  })

  it('tells a plaintext client that the port wants TLS, refuses a client without a certificate, and shows the members to one with it', async () => {
    const [plain, noCert, status] = await Promise.all([
      dyn(['get', 'tls-key', '--host', wire1]),
      dyn(['get', 'tls-key', '--host', wire1, '--tls-ca', join(caDir, 'ca.pem')]),
      dyn(['cluster', 'status', '--host', wire1, '--json'], tlsEnv),
    ])
    expect(status.exitCode, status.stderr + status.stdout).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({membership: {members: [{name: 'n1', status: 'valid'}, {name: 'n2', status: 'valid'}]}})
    expect(plain.exitCode).toBe(1)
    expect(plain.stderr).toMatch(/closed the connection without a hello: it most likely accepts only TLS connections/)
    expect(plain.stderr).toMatch(/--tls-ca \(DYN_TLS_CA\)/)
    expect(noCert.exitCode).toBe(1)
    expect(noCert.stderr).toMatch(/requires a client certificate \(mutual TLS\)/)
  })

  it('answers on the admin port over HTTPS only', async () => {
    expect(await probeHealth(http1, {tls: {ca}})).toMatchObject({ok: true, name: 'n1'})
    expect((await probeHealth(http1)).ok).toBe(false)
    const top = await dyn(['top', '--host', http1, '--json', '--interval', '100', ...tlsFlags])
    expect(top.exitCode, top.stderr + top.stdout).toBe(0)
    expect(JSON.stringify(JSON.parse(top.stdout))).toContain('"n1"')
  })

  it('refuses to start a node listening off loopback with neither a secret nor TLS, with exit code 2', async () => {
    const refused = await refusedStart
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toMatch(/listen\.host: 0\.0\.0\.0 is not a loopback address, and the node has neither a cluster secret nor TLS/)
    expect(refused.stderr).toMatch(/--insecure/)
  })
})
