// A full disk on a real node (DESIGN §1.5: "a full disk fails writes loudly without
// corrupting what is there"). test/store/journal.test.ts and partition.test.ts simulate
// ENOSPC through a file port; here the data directory is a small tmpfs filled with a ballast
// file, and the node is the built program (bin/run.js). Puts must fail with DISK_FULL and a
// message that says what to do, acknowledged writes must stay readable, the node must keep
// serving, and deleting the ballast must let writes through again without a restart; a
// restart afterwards must find every acknowledged write and no corrupt record. Compaction
// and hint files on the full disk are checked on a log store opened on the same tmpfs,
// where the test decides when compaction runs (a node compacts on its own schedule,
// src/daemon/compactor.ts). Needs root (mount); it fails, never skips, without it.
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdir, mkdtemp, open, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {DynClient} from '../../src/client/index.js'
import {DynError} from '../../src/core/errors.js'
import {DiskFullError, LogStore} from '../../src/store/index.js'
import {root} from '../commands/helpers.js'
import {freePorts, host} from '../daemon/helpers.js'

const tmpfsBytes = 8 * 1024 * 1024
const cluster = 'full-disk'

let dir = ''
let mounted = false
const children: ChildProcess[] = []
/** Ballast files made by fill(): removed after each test, so that a failed test leaves the
 * next one its space. */
const ballasts = new Set<string>()

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-full-disk-'))
})

let mounting: Promise<void> | undefined

/** Mounts the tmpfs on `dir` once; each test calls it first, so that without the right to
 * mount every test fails with this message (a failed hook would only report the suite). */
function mountTmpfs(): Promise<void> {
  mounting ??= (async () => {
    const mount = await execa('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsBytes}`, 'tmpfs', dir], {reject: false})
    if (mount.exitCode !== 0) {
      throw new Error(`this test puts a data directory on a tmpfs and needs root to mount one (mount -t tmpfs failed: ${mount.stderr || `exit ${mount.exitCode}`}); run it as root, as CI does`)
    }
    mounted = true
  })()
  return mounting
}

afterEach(async () => {
  for (const ballast of ballasts) await rm(ballast, {force: true})
  ballasts.clear()
})

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)))
  if (mounted) {
    // A lazy unmount as a last resort: a file left open must not leave the mount behind.
    const umount = await execa('umount', [dir], {reject: false})
    if (umount.exitCode !== 0) await execa('umount', ['-l', dir], {reject: false})
  }
  if (dir !== '') await rm(dir, {recursive: true, force: true})
})

/** Fills the file system of `path` with a ballast file until it is full. */
async function fill(path: string): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 1)
  ballasts.add(path)
  const file = await open(path, 'w')
  try {
    for (;;) {
      try {
        await file.write(chunk)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break
        throw error
      }
    }
    // What a 64 KiB write no longer fits: the last pages.
    for (;;) {
      try {
        await file.write(chunk.subarray(0, 4096))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return
        throw error
      }
    }
  } finally {
    await file.close()
  }
}

async function startNode(config: Record<string, unknown>, httpPort: number): Promise<{child: ChildProcess; output: () => string; exited: Promise<number | null>}> {
  const configPath = join(dir, 'node.json')
  await writeFile(configPath, JSON.stringify(config))
  const child = spawn(process.execPath, [join(root, 'bin/run.js'), 'node', 'start', '--config', configPath], {cwd: root, stdio: ['ignore', 'pipe', 'pipe']})
  children.push(child)
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const deadlineMs = performance.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the node exited with ${child.exitCode}:\n${output}`)
    if (await fetch(`http://${host}:${httpPort}/health`).then((response) => response.ok, () => false)) break
    if (performance.now() > deadlineMs) throw new Error(`the node did not start:\n${output}`)
    await sleep(50)
  }
  return {child, output: () => output, exited}
}

async function status(httpPort: number): Promise<{store: {corruptRecords: number; tornTailBytesTruncated: number; keys: number}}> {
  return (await (await fetch(`http://${host}:${httpPort}/status`)).json()) as {store: {corruptRecords: number; tornTailBytesTruncated: number; keys: number}}
}

/** Every acknowledged write reads back, and the deleted key-0 stays deleted. */
async function expectAcknowledged(client: DynClient, acknowledged: ReadonlyMap<string, string>): Promise<void> {
  for (const [key, value] of acknowledged) expect((await client.get(key)).siblings.map((sibling) => Buffer.from(sibling.value).toString()), key).toEqual([value])
  expect((await client.get('key-0')).found).toBe(false)
}

describe('a full disk', () => {
  it('fails puts on a real node with DISK_FULL, loses nothing acknowledged, keeps serving reads and takes writes again once space returns', async () => {
    await mountTmpfs()
    const [wirePort, httpPort] = await freePorts(2)
    const address = `${host}:${wirePort}`
    const config = {
      cluster,
      name: 'n1',
      listen: {host, port: wirePort},
      http: {host, port: httpPort},
      dataDir: join(dir, 'node'),
      members: [{name: 'n1', address}],
      n: 1,
      r: 1,
      w: 1,
      partitions: 8,
      sync: 'always',
    }
    let node = await startNode(config, httpPort!)
    const client = new DynClient({seeds: [address], cluster})
    const acknowledged = new Map<string, string>()
    try {
      for (let i = 0; i < 40; i++) {
        const value = `before-${i}-${'v'.repeat(1000)}`
        await client.put(`key-${i}`, value)
        acknowledged.set(`key-${i}`, value)
      }
      const deleted = await client.get('key-0')
      await client.delete('key-0', {context: deleted.context})
      acknowledged.delete('key-0')

      const ballast = join(dir, 'ballast')
      await fill(ballast)
      // Values larger than a page: no put fits in the slack of a segment's last page.
      const refused: DynError[] = []
      for (let i = 0; i < 8; i++) {
        const key = `full-${i}`
        const value = `during-${i}-${'w'.repeat(16 * 1024)}`
        try {
          await client.put(key, value)
          acknowledged.set(key, value)
        } catch (error) {
          if (!(error instanceof DynError)) throw error
          refused.push(error)
        }
      }
      expect(refused.length).toBeGreaterThan(0)
      for (const error of refused) {
        expect(error.code).toBe('DISK_FULL')
        expect(error.message).toMatch(/^disk full while writing .*; the write was not stored$/)
        expect(error.suggestion).toMatch(/^free space on the file system of the data directory, then retry: writes go through again without a restart/)
      }
      // The command shows the same, with what to do, and exits 1.
      const put = await execa(process.execPath, [join(root, 'bin/run.js'), 'put', 'by-command', 'x'.repeat(16 * 1024), '--host', address, '--cluster', cluster, '--dir', join(dir, 'none')], {reject: false, extendEnv: false, env: {PATH: process.env.PATH}})
      expect(put.exitCode, put.stderr).toBe(1)
      expect(put.stderr).toMatch(/^Error: disk full while writing .*; the write was not stored\nTry: free space on the file system of the data directory, then retry/m)

      // Still serving: health, reads of everything acknowledged, a deleted key still deleted.
      expect((await fetch(`http://${host}:${httpPort}/health`)).status).toBe(200)
      await expectAcknowledged(client, acknowledged)
    } finally {
      await client.close()
    }

    // Stopped and started again on the full disk: a clean stop, and a start that serves.
    // The stop deletes the journal, whose free space a second ballast takes; the first put
    // then also finds no room to reserve dot counters (a MetaStore document).
    node.child.kill('SIGTERM')
    expect(await node.exited, node.output()).toBe(0)
    node = await startNode(config, httpPort!)
    await fill(join(dir, 'ballast-2'))
    const restarted = new DynClient({seeds: [address], cluster})
    try {
      await expectAcknowledged(restarted, acknowledged)
      await expect(restarted.put('full-again', 'x'.repeat(16 * 1024))).rejects.toMatchObject({code: 'DISK_FULL', message: expect.stringMatching(/^disk full while writing/)})

      // Space returns: writes succeed again, without a restart.
      await rm(join(dir, 'ballast'))
      await rm(join(dir, 'ballast-2'))
      for (let i = 0; i < 8; i++) {
        const value = `after-${i}-${'a'.repeat(16 * 1024)}`
        await restarted.put(`after-${i}`, value)
        acknowledged.set(`after-${i}`, value)
      }
      expect(node.child.exitCode).toBe(null)
    } finally {
      await restarted.close()
    }

    // Stopped and started again, the node finds every acknowledged write and nothing corrupt.
    node.child.kill('SIGTERM')
    expect(await node.exited).toBe(0)
    node = await startNode(config, httpPort!)
    const again = new DynClient({seeds: [address], cluster})
    try {
      await expectAcknowledged(again, acknowledged)
      const {store} = await status(httpPort!)
      // key-0's tombstone is an object the node stores like any other.
      expect(store).toMatchObject({corruptRecords: 0, tornTailBytesTruncated: 0, keys: acknowledged.size + 1})
    } finally {
      await again.close()
    }
    node.child.kill('SIGTERM')
    expect(await node.exited).toBe(0)
  }, 60_000)

  it('fails compaction and hint files cleanly on a full disk, leaving no temporary file and every value readable', async () => {
    await mountTmpfs()
    const storeDir = join(dir, 'store')
    await mkdir(storeDir)
    const open = (): Promise<LogStore> => LogStore.open({dir: storeDir, sync: 'always', segmentBytesMax: 16 * 1024, compactionDeadRatioMin: 0.3})
    let store = await open()
    const latest = new Map<string, string>()
    const partition = await store.openPartition(0)
    // Three rounds of the same keys: the older segments are mostly dead.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 24; i++) {
        const value = `${round}-${i}-${'c'.repeat(1500)}`
        await partition.put(Buffer.from(`k${i}`), Buffer.from(value))
        latest.set(`k${i}`, value)
      }
    }
    // A record as large as a segment: the next put rolls the active segment over.
    const big = 'b'.repeat(16 * 1024)
    await partition.put(Buffer.from('big'), Buffer.from(big))
    latest.set('big', big)
    expect(partition.stats().segments).toBeGreaterThan(3)
    const ballast = join(dir, 'ballast-store')
    await fill(ballast)

    // The roll-over writes the closed segment's hint file: on a full disk the hint is given
    // up (the segment is scanned at the next open), and the put is refused.
    await expect(partition.put(Buffer.from('k0'), Buffer.from('x'.repeat(16 * 1024)))).rejects.toBeInstanceOf(DiskFullError)
    // Compaction waits for that hint first.
    await expect(partition.compact()).rejects.toBeInstanceOf(DiskFullError)
    expect((await readdir(join(storeDir, 'p-0'))).filter((name) => name.endsWith('.tmp'))).toEqual([])
    for (const [key, value] of latest) expect((await partition.get(Buffer.from(key)))?.toString()).toBe(value)

    await rm(ballast)
    const report = await partition.compact()
    expect(report.segmentsIn).toBeGreaterThan(0)
    for (const [key, value] of latest) expect((await partition.get(Buffer.from(key)))?.toString()).toBe(value)
    await store.close()
    store = await open()
    const reopened = await store.openPartition(0)
    for (const [key, value] of latest) expect((await reopened.get(Buffer.from(key)))?.toString()).toBe(value)
    expect(reopened.stats()).toMatchObject({corruptRecordsSkipped: 0, tornTailBytesTruncated: 0})
    await store.close()
  }, 30_000)
})
