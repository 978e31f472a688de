// `dyn node start` as a real process (bin/dev.js runs the sources through tsx): start,
// health, SIGTERM, the store lock, a port in use.
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'
import {freePorts, host, Tracker, within} from './helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const tracker = new Tracker()
afterEach(async () => {
  await tracker.cleanup()
})

interface Running {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

/** How the program is started: the sources through oclif, or the built entry point, which
 * runs a plain `node start --config FILE` without oclif (bin/run.js). */
const entries = {
  sources: ['--import', 'tsx', join(root, 'bin/dev.js')],
  built: [join(root, 'bin/run.js')],
} as const

function startNode(args: readonly string[], entry: keyof typeof entries = 'sources'): Running {
  const child = spawn(process.execPath, [...entries[entry], 'node', 'start', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  tracker.onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return {child, output: () => output, exited}
}

async function waitHealthy(httpPort: number, running: Running): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (running.child.exitCode !== null) throw new Error(`node exited early:\n${running.output()}`)
    try {
      const response = await fetch(`http://${host}:${httpPort}/health`)
      if (response.status === 200) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`node did not become healthy:\n${running.output()}`)
}

async function writeConfig(options: {dir: string; dataDir: string; wirePort: number; httpPort: number}): Promise<string> {
  const path = join(options.dir, `node-${options.wirePort}.json`)
  await writeFile(
    path,
    JSON.stringify({
      cluster: 'proc',
      name: 'n1',
      listen: {host, port: options.wirePort},
      http: {host, port: options.httpPort},
      dataDir: options.dataDir,
      members: [{name: 'n1', address: `${host}:${options.wirePort}`}],
      n: 1,
      r: 1,
      w: 1,
      partitions: 8,
    }),
  )
  return path
}

describe('dyn node start', () => {
  it.each(['sources', 'built'] as const)('serves, exits 0 on SIGTERM releasing the store lock, and starts again on the same directory (%s)', async (entry) => {
    const dir = await tracker.tempDir()
    const dataDir = join(dir, 'data')
    const [wirePort = 0, httpPort = 0] = await freePorts(2)
    const config = await writeConfig({dir, dataDir, wirePort, httpPort})

    const first = startNode(['--config', config], entry)
    await waitHealthy(httpPort, first)
    expect(existsSync(join(dataDir, 'LOCK'))).toBe(true)
    first.child.kill('SIGTERM')
    expect(await within(first.exited, 20_000, 'exit after SIGTERM')).toBe(0)
    expect(first.output()).toMatch(/n1 serving wire=127\.0\.0\.1:\d+ http=127\.0\.0\.1:\d+/)
    expect(first.output()).toContain('n1 stopped')
    expect(existsSync(join(dataDir, 'LOCK'))).toBe(false)

    const second = startNode([`--config=${config}`], entry)
    await waitHealthy(httpPort, second)
    second.child.kill('SIGINT')
    expect(await within(second.exited, 20_000, 'exit after SIGINT')).toBe(0)
  })

  it('refuses a second node on the same data directory with the lock error', async () => {
    const dir = await tracker.tempDir()
    const dataDir = join(dir, 'data')
    const [wireA = 0, httpA = 0, wireB = 0, httpB = 0] = await freePorts(4)
    const first = startNode(['--config', await writeConfig({dir, dataDir, wirePort: wireA, httpPort: httpA})])
    await waitHealthy(httpA, first)
    // Same data directory, other ports.
    const second = startNode(['--config', await writeConfig({dir, dataDir, wirePort: wireB, httpPort: httpB})])
    const code = await within(second.exited, 30_000, 'the second node exiting')
    expect(code).not.toBe(0)
    expect(second.output()).toMatch(/store directory .* is locked by process \d+/)
    expect(first.child.exitCode).toBeNull()
    first.child.kill('SIGTERM')
    expect(await within(first.exited, 20_000, 'exit after SIGTERM')).toBe(0)
  })

  it('exits non-zero naming the port when the wire port is in use, and 2 for an invalid configuration', async () => {
    const dir = await tracker.tempDir()
    const [wirePort = 0, httpPort = 0] = await freePorts(2)
    const holder: Server = createServer()
    await new Promise<void>((resolve) => holder.listen({host, port: wirePort}, () => resolve()))
    tracker.onCleanup(() => new Promise<void>((resolve) => holder.close(() => resolve())))
    const busy = startNode(['--config', await writeConfig({dir, dataDir: join(dir, 'data'), wirePort, httpPort})])
    const code = await within(busy.exited, 30_000, 'the node exiting')
    expect(code).not.toBe(0)
    expect(busy.output()).toContain(`port ${wirePort}`)
    expect(busy.output()).toContain('--port')
    // The lock was released on the way out.
    expect(existsSync(join(dir, 'data', 'LOCK'))).toBe(false)

    const invalid = startNode(['--name', 'n1', '--data-dir', join(dir, 'other'), '--n', '1', '--r', '1', '--w', '1', '--partitions', '100'])
    expect(await within(invalid.exited, 30_000, 'the node exiting')).toBe(2)
    expect(invalid.output()).toContain('partitions: 100 is not allowed')
  })

  it('reports a bad configuration file the same way with or without oclif', async () => {
    const dir = await tracker.tempDir()
    const [wirePort = 0, httpPort = 0] = await freePorts(2)
    const config = await writeConfig({dir, dataDir: join(dir, 'data'), wirePort, httpPort})
    await writeFile(config, JSON.stringify({...(JSON.parse(await readFile(config, 'utf8')) as object), partitions: 100}))
    const outputs: string[] = []
    for (const entry of ['sources', 'built'] as const) {
      const invalid = startNode(['-c', config], entry)
      expect(await within(invalid.exited, 30_000, 'the node exiting')).toBe(2)
      outputs.push(invalid.output())
    }
    expect(outputs[0]).toContain('partitions: 100 is not allowed')
    expect(outputs[1]).toBe(outputs[0])
  })
})
