// Real-process tests: a writer killed with SIGKILL in the middle of durable puts loses no
// acknowledged put, and the lock keeps a second process out until its holder dies.
import {spawn} from 'node:child_process'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {LogStore, StoreLockedError, type StoreEvent} from '../../src/store/index.js'
import {runFixture} from './child.js'
import {valueFor} from './fixtures/values.js'
import {withTempDir} from './helpers.js'

/** The child is killed once this many puts are acknowledged: enough to span many batches and segments. */
const acknowledgedBeforeKill = 3000
const childTimeoutMs = 20_000

describe('crash of a real process', () => {
  it('keeps every acknowledged durable put after SIGKILL, taking over the stale lock', async () => {
    await withTempDir(async (dir) => {
      const writer = runFixture('writer.ts', [dir])
      try {
        await writer.until((lines) => lines.length > acknowledgedBeforeKill, childTimeoutMs)
      } finally {
        writer.process.kill('SIGKILL')
        await writer.exited
      }
      const acknowledged = writer.lines.filter((line) => line !== 'ready')
      expect(acknowledged.length).toBeGreaterThan(acknowledgedBeforeKill - 1)
      const events: StoreEvent[] = []
      const store = await LogStore.open({dir, logger: (event) => events.push(event)})
      expect(events).toContainEqual({kind: 'staleLockTaken', path: dir, pid: writer.process.pid})
      const partition = await store.openPartition(0)
      const missing: string[] = []
      for (const key of acknowledged) {
        const value = await partition.get(Buffer.from(key))
        if (value === undefined || !value.equals(valueFor(key))) missing.push(key)
      }
      expect(missing).toEqual([])
      expect(partition.stats().keys).toBeGreaterThanOrEqual(acknowledged.length)
      expect(partition.stats().corruptRecordsSkipped).toBe(0)
      await store.close()
    })
  })
})

describe('lock file', () => {
  it('refuses a second open in the same process, naming the pid', async () => {
    await withTempDir(async (dir) => {
      const store = await LogStore.open({dir})
      const second = LogStore.open({dir})
      await expect(second).rejects.toBeInstanceOf(StoreLockedError)
      await expect(second).rejects.toThrow(`locked by process ${process.pid}`)
      await store.close()
      const third = await LogStore.open({dir})
      await third.close()
    })
  })

  it('refuses an open while another process holds the store, then takes over once it dies', async () => {
    await withTempDir(async (dir) => {
      const holder = runFixture('hold-lock.ts', [dir])
      try {
        await holder.until((lines) => lines.includes('ready'), childTimeoutMs)
        const attempt = LogStore.open({dir})
        await expect(attempt).rejects.toMatchObject({code: 'STORE_LOCKED', suggestion: expect.stringContaining(`stop process ${holder.process.pid}`)})
        await expect(attempt).rejects.toThrow(`locked by process ${holder.process.pid}`)
      } finally {
        holder.process.kill('SIGKILL')
        await holder.exited
      }
      const store = await LogStore.open({dir})
      await store.close()
    })
  })

  it('takes over the lock of a killed process that its parent has not reaped yet (a zombie)', async () => {
    await withTempDir(async (dir) => {
      // sh starts the holder in the background and becomes `sleep`, which never reaps it:
      // once killed, the holder stays a zombie, which kill(pid, 0) still reports alive.
      const fixture = join('test', 'store', 'fixtures', 'hold-lock.ts')
      const parent = spawn('sh', ['-c', `"${process.execPath}" --import tsx ${fixture} "${dir}" > /dev/null & echo $!; exec sleep 60`], {stdio: ['ignore', 'pipe', 'ignore']})
      try {
        const holderPid = await new Promise<number>((resolve) => parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))))
        const lockFile = join(dir, 'LOCK')
        for (let waited = 0; waited < childTimeoutMs; waited += 50) {
          if ((await readFile(lockFile, 'utf8').catch(() => '')).trim() === String(holderPid)) break
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        process.kill(holderPid, 'SIGKILL')
        for (let waited = 0; waited < childTimeoutMs; waited += 50) {
          if (/^\d+ \(.*\) Z/s.test(await readFile(`/proc/${holderPid}/stat`, 'utf8').catch(() => ''))) break
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        expect(await readFile(`/proc/${holderPid}/stat`, 'utf8')).toMatch(/^\d+ \(.*\) Z/s)
        const events: StoreEvent[] = []
        const store = await LogStore.open({dir, logger: (event) => events.push(event)})
        expect(events).toEqual([{kind: 'staleLockTaken', path: dir, pid: holderPid}])
        await store.close()
      } finally {
        parent.kill('SIGKILL')
      }
    })
  })

  it('takes over a lock file naming a process that no longer exists', async () => {
    await withTempDir(async (dir) => {
      const gone = runFixture('hold-lock.ts', [join(dir, 'elsewhere')])
      gone.process.kill('SIGKILL')
      await gone.exited
      const deadPid = gone.process.pid ?? 0
      await writeFile(join(dir, 'LOCK'), `${deadPid}\n`)
      const events: StoreEvent[] = []
      const store = await LogStore.open({dir, logger: (event) => events.push(event)})
      expect(events).toEqual([{kind: 'staleLockTaken', path: dir, pid: deadPid}])
      await store.close()
    })
  })
})
