// bin/run.js runs a plain `dyn get` without oclif (src/cli/fast-get.ts). It must read the
// same flags as src/commands/get.ts, print the same output and exit with the same codes,
// and leave to oclif whatever it does not read exactly as oclif would. The installed
// program (bin/run.js on the build) is compared here with oclif running the same command,
// against a node stubbed in this process, so every reply (and its latency) is fixed.
import {execFile} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {getFlags, parseGet} from '../../src/cli/fast-get.js'
import Get from '../../src/commands/get.js'
import {encodeContext} from '../../src/core/causality.js'
import {NetServer} from '../../src/net/index.js'
import {root} from '../commands/helpers.js'

interface Run {
  exitCode: number
  stdout: string
  stderr: string
}

function spawn(args: readonly string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, {cwd: root, env: {...process.env, DYN_HOST: undefined, DYN_DIR: undefined, DYN_CLUSTER: undefined, ...env}}, (error, stdout, stderr) => {
      resolve({exitCode: error === null ? 0 : Number((error as {code?: number}).code ?? -1), stdout, stderr})
    })
  })
}

/** The installed program: bin/run.js, which takes the fast path for a plain get. */
const installed = (args: readonly string[], env: Record<string, string | undefined> = {}) => spawn([join(root, 'bin', 'run.js'), ...args], env)

/** The same build run through oclif, as bin/run.js does for any other command. */
const throughOclif = (args: readonly string[], env: Record<string, string | undefined> = {}) =>
  spawn(['--input-type=module', '-e', `const {execute} = await import('@oclif/core'); await execute({dir: ${JSON.stringify(join(root, 'bin', 'run.js'))}, args: ${JSON.stringify(args)}})`], env)

const context = {env: {}, jsonMayBeColoured: false}

describe('the flags of the fast get', () => {
  it('are the flags get.ts declares, with the same environment variables and defaults', () => {
    const declared = Object.entries(Get.flags).map(([name, flag]) => ({name, type: flag.type, env: flag.env, default: flag.default as unknown}))
    const fast = [
      ...Object.entries(getFlags.options).map(([name, flag]) => ({name, type: 'option', env: 'env' in flag ? flag.env : undefined, default: 'default' in flag ? flag.default : undefined})),
      ...getFlags.booleans.filter((name) => name !== 'json').map((name) => ({name, type: 'boolean', env: undefined, default: undefined as unknown})),
    ]
    const byName = (a: {name: string}, b: {name: string}) => a.name.localeCompare(b.name)
    expect(fast.sort(byName)).toEqual(declared.sort(byName))
    expect(Get.enableJsonFlag).toBe(true)
    expect(Object.keys(Get.args)).toEqual(['key'])
  })
})

describe('parseGet', () => {
  it('reads flags in both spellings, before or after the key, with environment and defaults', () => {
    expect(parseGet(['cart'], context)).toEqual({key: 'cart', showClock: false, json: false, target: {dir: './.dyn'}})
    expect(parseGet(['--r', '3', 'cart', '--node=n2', '--show-clock', '--json'], context)).toEqual({
      key: 'cart', r: 3, showClock: true, json: true, target: {dir: './.dyn', node: 'n2'},
    })
    const env = {DYN_DIR: '/srv/dyn', DYN_HOST: '10.0.0.1:7001', DYN_CLUSTER: ''}
    expect(parseGet(['cart'], {env, jsonMayBeColoured: false})).toEqual({key: 'cart', showClock: false, json: false, target: {dir: '/srv/dyn', host: '10.0.0.1:7001'}})
    expect(parseGet(['cart', '--dir', 'here', '--cluster', 'prod'], {env, jsonMayBeColoured: false})?.target).toEqual({dir: 'here', host: '10.0.0.1:7001', cluster: 'prod'})
  })

  it.each([
    [[]],
    [['a', 'b']],
    [['--help', 'cart']],
    [['cart', '-h']],
    [['cart', '--bogus']],
    [['cart', '--no-show-clock']],
    [['cart', '--json=true']],
    [['cart', '--json', '--json']],
    [['cart', '--node', 'n1', '--node', 'n2']],
    [['cart', '--r', '0']],
    [['cart', '--r', '-1']],
    [['cart', '--r', 'two']],
    [['cart', '--r', '1.5']],
    [['cart', '--r']],
    [['cart', '--node', '--json']],
    [['cart', '--dir=']],
    [['--', '-cart']],
    [['']],
  ])('leaves %j to oclif', (argv) => {
    expect(parseGet(argv, context)).toBeUndefined()
  })

  it('leaves TLS to oclif, from a flag or the environment', () => {
    expect(parseGet(['cart', '--tls-ca', 'ca.pem'], context)).toBeUndefined()
    expect(parseGet(['cart', '--tls-cert=c.pem', '--tls-key=k.pem'], context)).toBeUndefined()
    expect(parseGet(['cart'], {env: {DYN_TLS_CA: '/etc/dyn/ca.pem'}, jsonMayBeColoured: false})).toBeUndefined()
    expect(parseGet(['cart'], {env: {DYN_TLS_CA: ''}, jsonMayBeColoured: false})).toBeDefined()
  })

  it('leaves --json to oclif where oclif may colour it', () => {
    expect(parseGet(['cart', '--json'], {env: {}, jsonMayBeColoured: true})).toBeUndefined()
    expect(parseGet(['cart'], {env: {}, jsonMayBeColoured: true})).toBeDefined()
  })
})

describe('dyn get, fast and through oclif', () => {
  let dir: string
  let stub: NetServer
  let host: string
  let closedHost: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dyn-fast-get-'))
    stub = new NetServer({identity: {cluster: 'dyn', role: 'node', name: 'n1'}})
    const contextOf = (counter: number) => encodeContext([{node: 'n1', counter}, {node: 'n2', counter: 2}], {cluster: 'dyn'})
    const replies = [{node: 'n1', status: 'ok', ms: 0.5}, {node: 'n2', status: 'ok', ms: 0.7}]
    stub.handle('kv.get', (payload) => {
      const key = Buffer.from((payload as {key: Uint8Array}).key).toString()
      if (key === 'missing') {
        return {ok: true, found: false, siblings: [], context: contextOf(1), quorum: {op: 'get', coordinator: 'n1', n: 3, r: 2, ok: true, replies, pending: ['n3'], readRepair: []}}
      }
      if (key === 'cut-off') {
        return {
          ok: false,
          error: {
            code: 'QUORUM_NOT_MET',
            message: 'get needed R=2 answers from 3 replicas asked, got 1',
            exitCode: 3,
            suggestion: 'retry when more replicas are reachable, or read with --r 1',
            quorum: {op: 'get', coordinator: 'n1', n: 3, r: 2, ok: false, replies: [{node: 'n1', status: 'ok', ms: 1}, {node: 'n2', status: 'timeout', ms: 2000}], pending: ['n3'], readRepair: []},
          },
        }
      }
      const siblings = [
        {value: new TextEncoder().encode('apple'), dot: {node: 'n1', counter: 4}},
        {value: new Uint8Array([0, 255, 1]), dot: {node: 'n2', counter: 2}},
      ]
      return {ok: true, found: true, siblings, context: contextOf(4), quorum: {op: 'get', coordinator: 'n1', n: 3, r: 2, ok: true, replies, pending: ['n3'], readRepair: ['n2']}}
    })
    const {port} = await stub.listen({host: '127.0.0.1', port: 0})
    host = `127.0.0.1:${port}`
    // A cluster directory whose one node is the stub, for --dir with --node.
    const node = {name: 'n1', host: '127.0.0.1', port, httpPort: port + 1, configPath: join(dir, 'n1', 'node.json'), dataDir: join(dir, 'n1', 'data'), logPath: join(dir, 'n1', 'node.log'), pid: null}
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({version: 1, cluster: 'dyn', n: 3, r: 2, w: 2, partitions: 64, sync: 'always', nodes: [node]}))
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen({host: '127.0.0.1', port: 0}, resolve))
    closedHost = `127.0.0.1:${(closed.address() as {port: number}).port}`
    await new Promise<void>((resolve) => closed.close(() => resolve()))
  })

  afterAll(async () => {
    await stub.destroy()
    await rm(dir, {recursive: true, force: true})
  })

  const cases: [string, () => {args: string[]; env?: Record<string, string>}][] = [
    ['siblings as text', () => ({args: ['get', 'cart', '--host', host]})],
    ['siblings as JSON', () => ({args: ['get', 'cart', '--host', host, '--json']})],
    ['the readable clock', () => ({args: ['get', '--show-clock', 'cart', `--host=${host}`]})],
    ['a missing key (exit 4)', () => ({args: ['get', 'missing', '--host', host]})],
    ['a missing key as JSON (exit 4)', () => ({args: ['get', 'missing', '--host', host, '--json', '--r', '1']})],
    ['a quorum not met (exit 3)', () => ({args: ['get', 'cut-off', '--host', host]})],
    ['a quorum not met as JSON (exit 3)', () => ({args: ['get', 'cut-off', '--host', host, '--json']})],
    ['a node of the cluster directory', () => ({args: ['get', 'cart', '--dir', dir, '--node', 'n1', '--show-clock']})],
    ['the directory from DYN_DIR', () => ({args: ['get', 'cart', '--node', 'n1'], env: {DYN_DIR: dir}})],
    ['an unknown node (exit 1)', () => ({args: ['get', 'cart', '--dir', dir, '--node', 'n9']})],
    ['no cluster in the directory (exit 1)', () => ({args: ['get', 'cart', '--dir', join(dir, 'none'), '--json']})],
    ['no node listening', () => ({args: ['get', 'cart', '--host', closedHost]})],
    ['a bad address', () => ({args: ['get', 'cart', '--host', 'nowhere', '--json']})],
    ['a usage error, left to oclif', () => ({args: ['get', 'cart', '--r', '0', '--host', host]})],
    ['--help, left to oclif', () => ({args: ['get', '--help']})],
  ]

  it.each(cases)('%s', async (_name, make) => {
    const {args, env} = make()
    const [fast, oclif] = await Promise.all([installed(args, env), throughOclif(args, env)])
    // Node's warnings name the process.
    const unnamed = (run: Run) => ({...run, stderr: run.stderr.replaceAll(/\(node:\d+\)/g, '(node)')})
    expect(unnamed(fast)).toEqual(unnamed(oclif))
  })

  it('does not load oclif for a plain get', async () => {
    // With oclif's own debug output on, a run through oclif says so on stderr.
    const fast = await installed(['get', 'cart', '--host', host], {DEBUG: '*'})
    expect(fast.exitCode).toBe(0)
    expect(fast.stderr).toBe('')
    const slow = await installed(['get', 'cart', '--host', host, '--r', '00'], {DEBUG: '*'})
    expect(slow.stderr).toContain('config')
  })
})
