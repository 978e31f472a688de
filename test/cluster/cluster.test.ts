// Local cluster management without starting nodes: the plan and its limits, the cluster
// file, port checks, stopping processes with a bound, target resolution, the spawn command.
import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {existsSync} from 'node:fs'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {
  ClusterNotFoundError,
  ClusterParameterError,
  ClusterRunningError,
  isAlive,
  isNodeProcess,
  isPortFree,
  nodeConfig,
  planCluster,
  programCommand,
  readClusterFile,
  readLogTail,
  resolveTarget,
  stopProcess,
  UnknownClusterNodeError,
  up,
  writeClusterFile,
} from '../../src/cluster/index.js'

let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-cluster-'))
})

afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('planCluster', () => {
  it('lays nodes out on consecutive wire ports with HTTP ports 1000 above, paths under the directory', () => {
    const file = planCluster(dir, {nodes: 3, basePort: 20001})
    expect(file.nodes.map((node) => [node.name, node.port, node.httpPort])).toEqual([
      ['n1', 20001, 21001],
      ['n2', 20002, 21002],
      ['n3', 20003, 21003],
    ])
    expect(file.nodes[1]).toMatchObject({configPath: join(dir, 'n2', 'node.json'), dataDir: join(dir, 'n2', 'data'), logPath: join(dir, 'n2', 'node.log'), pid: null})
    expect(file).toMatchObject({version: 1, cluster: 'dyn', n: 3, r: 2, w: 2, partitions: 64, sync: 'always'})
  })

  it.each([
    [{nodes: 0}, /--nodes 0 .*from 1 to 32/],
    [{nodes: 2, n: 3}, /--n 3 .*from 1 to 2/],
    [{r: 4}, /--r 4 .*from 1 to 3/],
    [{w: 0}, /--w 0 .*from 1 to 3/],
    [{partitions: 48}, /--partitions 48 .*power of two/],
    [{basePort: 80}, /--base-port 80 .*from 1024/],
    [{sync: 'sometimes'}, /--sync sometimes .*always, none or interval:MS/],
  ])('refuses %o with a usage error naming the allowed range', (options, message) => {
    const attempt = (): unknown => planCluster(dir, options)
    expect(attempt).toThrow(ClusterParameterError)
    expect(attempt).toThrow(message)
    try {
      attempt()
    } catch (error) {
      expect((error as ClusterParameterError).exitCode).toBe(2)
    }
  })

  it('writes the node configuration of the contract: every member, N/R/W, Q, sync', () => {
    const file = planCluster(dir, {nodes: 2, n: 2, r: 1, w: 2, partitions: 16, basePort: 30001, sync: 'interval:50', cluster: 'c1'})
    expect(nodeConfig(file, file.nodes[1]!)).toEqual({
      cluster: 'c1',
      name: 'n2',
      listen: {host: '127.0.0.1', port: 30002},
      http: {host: '127.0.0.1', port: 31002},
      dataDir: join(dir, 'n2', 'data'),
      members: [
        {name: 'n1', address: '127.0.0.1:30001', weight: 1},
        {name: 'n2', address: '127.0.0.1:30002', weight: 1},
      ],
      n: 2,
      r: 1,
      w: 2,
      partitions: 16,
      sync: 'interval:50',
    })
  })
})

describe('cluster file', () => {
  it('round-trips and is refused when damaged', async () => {
    const file = planCluster(dir, {nodes: 2, n: 2, basePort: 40001})
    await writeClusterFile(dir, file)
    expect(await readClusterFile(dir)).toEqual(file)
    await writeFile(join(dir, 'cluster.json'), '{"version": 1, "nodes": "x"')
    await expect(readClusterFile(dir)).rejects.toMatchObject({code: 'CLUSTER_FILE_INVALID'})
  })

  it('is missing: ClusterNotFoundError with a suggestion', async () => {
    await expect(readClusterFile(join(dir, 'none'))).rejects.toBeInstanceOf(ClusterNotFoundError)
  })

  it('is under a file: a usage error naming it', async () => {
    await writeFile(join(dir, 'plain'), '')
    await expect(readClusterFile(join(dir, 'plain'))).rejects.toMatchObject({exitCode: 2, message: `${join(dir, 'plain')} is a file, not a cluster directory`})
  })
})

describe('resolveTarget', () => {
  it('uses the whole cluster with partition-aware routing, one node with --node, any node with --host', async () => {
    await writeClusterFile(dir, planCluster(dir, {nodes: 3, basePort: 40001, cluster: 'c9'}))
    expect(await resolveTarget({dir})).toEqual({seeds: ['127.0.0.1:40001', '127.0.0.1:40002', '127.0.0.1:40003'], cluster: 'c9', routing: 'partition-aware'})
    expect(await resolveTarget({dir, node: 'n2'})).toEqual({seeds: ['127.0.0.1:40002'], cluster: 'c9', routing: 'direct'})
    expect(await resolveTarget({dir, host: '10.0.0.1:7001'})).toEqual({seeds: ['10.0.0.1:7001'], cluster: 'c9', routing: 'direct'})
    // --node wins over --host, which may come from an exported DYN_HOST.
    expect(await resolveTarget({dir, host: '10.0.0.1:7001', node: 'n3'})).toEqual({seeds: ['127.0.0.1:40003'], cluster: 'c9', routing: 'direct'})
    expect(await resolveTarget({dir: join(dir, 'none'), host: '10.0.0.1:7001'})).toMatchObject({cluster: 'dyn'})
    expect(await resolveTarget({dir, host: '10.0.0.1:7001', cluster: 'other'})).toMatchObject({cluster: 'other'})
    await expect(resolveTarget({dir, node: 'n7'})).rejects.toBeInstanceOf(UnknownClusterNodeError)
    await expect(resolveTarget({dir, host: 'nohost'})).rejects.toMatchObject({code: 'ADDRESS_INVALID', exitCode: 2})
  })
})

describe('ports and processes', () => {
  it('sees a taken port as taken, and up refuses it naming the node before spawning', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen({host: '127.0.0.1', port: 0}, resolve))
    const port = (server.address() as {port: number}).port
    try {
      expect(await isPortFree('127.0.0.1', port)).toBe(false)
      await expect(up({dir, nodes: 2, n: 2, basePort: port - 1})).rejects.toThrow(/port of node n[12], 127\.0\.0\.1:\d+, is already in use/)
      expect(existsSync(join(dir, 'cluster.json'))).toBe(false)
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    expect(await isPortFree('127.0.0.1', port)).toBe(true)
  })

  it('stops a process that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const configPath = join(dir, 'fake-node.json')
    const script = "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('ready')"
    const child = spawn(process.execPath, ['-e', script, '--', configPath], {stdio: ['ignore', 'pipe', 'ignore']})
    const pid = child.pid!
    const exited = new Promise((resolve) => child.once('exit', resolve))
    await once(child.stdout, 'data') // the SIGTERM handler is installed
    expect(await isNodeProcess(pid, configPath)).toBe(true)
    expect(await isNodeProcess(pid, join(dir, 'other.json'))).toBe(false)
    const outcome = await stopProcess(pid, {graceMs: 300, isRunning: () => isNodeProcess(pid, configPath)})
    expect(outcome).toBe('killed')
    await exited
    expect(isAlive(pid)).toBe(false)
  })

  it('refuses a second up while a recorded node process runs', async () => {
    const file = planCluster(dir, {nodes: 1, n: 1, r: 1, w: 1, basePort: 40001})
    const node = file.nodes[0]!
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', node.configPath], {stdio: 'ignore'})
    try {
      await once(child, 'spawn')
      await writeClusterFile(dir, {...file, nodes: [{...node, pid: child.pid!}]})
      await expect(up({dir})).rejects.toBeInstanceOf(ClusterRunningError)
    } finally {
      child.kill('SIGKILL')
    }
  })
})

describe('program and logs', () => {
  it('runs the sources through tsx with absolute paths, or DYN_PROGRAM when set', () => {
    const command = programCommand({})
    expect(command.file).toBe(process.execPath)
    expect(command.args.at(-1)).toMatch(/bin[/\\]dev\.js$/)
    expect(command.args[command.args.indexOf('--import') + 1]).toMatch(/^file:\/\/.*tsx/)
    expect(programCommand({DYN_PROGRAM: '/opt/dyn/bin/dyn'})).toEqual({file: '/opt/dyn/bin/dyn', args: []})
  })

  it('reads the last lines of a log', async () => {
    const path = join(dir, 'node.log')
    await writeFile(path, Array.from({length: 100}, (_, index) => `line ${index}`).join('\n') + '\n')
    const tail = await readLogTail(path)
    expect(tail).toContain('line 99')
    expect(tail).not.toContain('line 50\n')
    expect(await readLogTail(join(dir, 'missing.log'))).toBe('')
  })
})
