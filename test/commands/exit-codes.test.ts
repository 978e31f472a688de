// Exit codes and JSON shapes of real `dyn` processes (DESIGN §8): 0 ok, 1 error, 2 usage,
// 3 quorum not met, 4 key not found, the same with --json (oclif alone exits 1 for every
// error under --json; BaseCommand and the commands set the code themselves). Nodes are
// stubbed by NetServers in this process, so no cluster is started here.
import {existsSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {encodeContext} from '../../src/core/causality.js'
import {NetServer} from '../../src/net/index.js'
import {dyn, json} from './helpers.js'

let dir: string
let stub: NetServer
let stubAddress: string
const puts: {key: string; value: string; w?: number}[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-commands-'))
  stub = new NetServer({identity: {cluster: 'dyn', role: 'node', name: 'n1'}})
  const context = encodeContext([{node: 'n1', counter: 7}], {cluster: 'dyn'})
  stub.handle('kv.get', () => ({
    ok: true,
    found: false,
    siblings: [],
    context,
    quorum: {op: 'get', coordinator: 'n1', n: 3, r: 2, ok: true, replies: [{node: 'n1', status: 'tombstone', ms: 0.5}, {node: 'n2', status: 'notFound', ms: 0.7}], pending: ['n3'], readRepair: []},
  }))
  stub.handle('kv.put', (payload) => {
    const request = payload as {key: Uint8Array; value: Uint8Array; w?: number}
    puts.push({key: Buffer.from(request.key).toString(), value: Buffer.from(request.value).toString('base64'), ...(request.w === undefined ? {} : {w: request.w})})
    return {
      ok: false,
      error: {
        code: 'QUORUM_NOT_MET',
        message: 'put needed W=3 answers from 3 replicas asked, got 1',
        exitCode: 3,
        suggestion: 'retry',
        quorum: {op: 'put', coordinator: 'n1', n: 3, w: 3, ok: false, replies: [{node: 'n1', status: 'ok', ms: 1}, {node: 'n2', status: 'timeout', ms: 2000}], pending: ['n3']},
      },
    }
  })
  const {port} = await stub.listen({host: '127.0.0.1', port: 0})
  stubAddress = `127.0.0.1:${port}`
})

afterAll(async () => {
  await stub.destroy()
  await rm(dir, {recursive: true, force: true})
})

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen({host: '127.0.0.1', port: 0}, resolve))
  const {port} = server.address() as {port: number}
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('usage errors exit 2 in text and --json mode', () => {
  it('a flag out of range names the allowed range', async () => {
    const [text, asJson] = await Promise.all([dyn(['cluster', 'up', '--r', '0', '--dir', dir]), dyn(['cluster', 'up', '--r', '0', '--dir', dir, '--json'])])
    expect(text.exitCode).toBe(2)
    expect(text.stderr).toMatch(/0 is not allowed: give a whole number from 1 to 32/)
    expect(asJson.exitCode).toBe(2)
    expect(json(asJson)).toMatchObject({version: 1, error: {code: 'USAGE', exitCode: 2, message: expect.stringMatching(/from 1 to 32/)}})
  })

  it('an unknown flag, R above N, a missing value', async () => {
    const [unknown, quorum, noValue] = await Promise.all([
      dyn(['get', 'k', '--bogus', '--json']),
      dyn(['cluster', 'up', '--n', '2', '--r', '3', '--dir', join(dir, 'never'), '--json']),
      dyn(['put', 'k', '--dir', dir]),
    ])
    expect(unknown.exitCode).toBe(2)
    expect(json(unknown)).toMatchObject({version: 1, error: {code: 'USAGE', exitCode: 2}})
    expect(quorum.exitCode).toBe(2)
    expect(json(quorum)).toMatchObject({error: {code: 'CLUSTER_PARAMETER_INVALID', exitCode: 2, message: '--r 3 is not allowed: a whole number from 1 to 2'}})
    expect(existsSync(join(dir, 'never'))).toBe(false)
    expect(noValue.exitCode).toBe(2)
    expect(noValue.stderr).toMatch(/no value given/)
  })
})

describe('errors exit 1', () => {
  it('no cluster in the directory, no node reachable', async () => {
    const port = await closedPort()
    const [status, unreachable] = await Promise.all([
      dyn(['cluster', 'status', '--dir', join(dir, 'none'), '--json']),
      dyn(['get', 'k', '--host', `127.0.0.1:${port}`, '--json']),
    ])
    expect(status.exitCode).toBe(1)
    expect(json(status)).toMatchObject({version: 1, error: {code: 'CLUSTER_NOT_FOUND', exitCode: 1, suggestion: expect.stringContaining('dyn cluster up')}})
    expect(unreachable.exitCode).toBe(1)
    expect(json(unreachable)).toMatchObject({error: {code: 'NO_NODE_REACHABLE', exitCode: 1}})
  })
})

describe('not found exits 4, quorum not met exits 3', () => {
  it('a get of a missing key exits 4 and prints the not-found result with its context', async () => {
    const [text, asJson] = await Promise.all([dyn(['get', 'gone', '--host', stubAddress, '--show-clock']), dyn(['get', 'gone', '--host', stubAddress, '--json'])])
    expect(text.exitCode).toBe(4)
    expect(text.stdout).toContain('key gone: not found')
    expect(text.stdout).toContain('clock: n1:7')
    expect(asJson.exitCode).toBe(4)
    expect(json(asJson)).toMatchObject({
      version: 1,
      key: 'gone',
      found: false,
      siblings: [],
      context: expect.any(String),
      quorum: {coordinator: 'n1', n: 3, r: 2, ok: true, replies: [{node: 'n1', status: 'tombstone'}, {node: 'n2', status: 'notFound'}], readRepair: []},
    })
  })

  it('a put whose quorum fails exits 3 and shows what each replica said', async () => {
    const [text, asJson, piped] = await Promise.all([
      dyn(['put', 'k', 'v', '--w', '3', '--host', stubAddress]),
      dyn(['put', 'k', 'v', '--host', stubAddress, '--json']),
      dyn(['put', 'bin', '-', '--host', stubAddress, '--json'], {input: Buffer.from([0, 255, 1])}),
    ])
    expect(text.exitCode).toBe(3)
    expect(text.stderr).toMatch(/n2\s+│ timeout/)
    expect(text.stderr).toContain('Error: put needed W=3')
    expect(asJson.exitCode).toBe(3)
    expect(json(asJson)).toEqual({
      version: 1,
      error: {
        code: 'QUORUM_NOT_MET',
        message: 'put needed W=3 answers from 3 replicas asked, got 1',
        exitCode: 3,
        suggestion: 'retry',
        quorum: {coordinator: 'n1', n: 3, w: 3, ok: false, replies: [{node: 'n1', status: 'ok', ms: 1}, {node: 'n2', status: 'timeout', ms: 2000}], pending: ['n3']},
      },
    })
    expect(piped.exitCode).toBe(3)
    expect(puts).toContainEqual({key: 'k', value: Buffer.from('v').toString('base64'), w: 3})
    expect(puts).toContainEqual({key: 'bin', value: Buffer.from([0, 255, 1]).toString('base64')})
  })
})
