// One process per store directory (DESIGN §6). The lock is a file `LOCK` holding the
// owner's pid, created with O_EXCL. A lock whose pid is not alive was left by a crash and
// is taken over. Within one process, a registry of held directories refuses a second
// open even though the pid is our own; a lock with our pid that the registry does not
// hold was left by a store that was dropped without closing, and is taken over too.
import {readFileSync} from 'node:fs'
import * as fs from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {errorCodeOf, StoreLockedError} from './errors.js'

export const lockFileName = 'LOCK'

/** Directories locked by stores open in this process. */
const heldHere = new Set<string>()

/** Taking over a stale lock races with other processes doing the same; retry a few times. */
const lockAttemptsMax = 5

export interface StoreLock {
  readonly path: string
  release(): Promise<void>
  /** Forgets the lock in this process without removing the file, as a killed process would. */
  abandon(): void
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return errorCodeOf(error) === 'EPERM'
  }
  return !isZombie(pid)
}

/** A killed process whose parent has not reaped it yet still answers kill(pid, 0), but it
 * holds no lock any more: on Linux its state in /proc/PID/stat is Z. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return /^\d+ \(.*\) Z/s.test(stat)
  } catch {
    return false
  }
}

async function readOwner(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await fs.readFile(path, 'utf8'), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch (error) {
    if (errorCodeOf(error) === 'ENOENT') return undefined
    throw error
  }
}

/** Creates the lock with its content in one step (link fails if it exists), so no reader sees it empty. */
async function tryCreate(path: string): Promise<boolean> {
  const tempPath = `${path}.${process.pid}.tmp`
  await fs.writeFile(tempPath, `${process.pid}\n`)
  try {
    await fs.link(tempPath, path)
    return true
  } catch (error) {
    if (errorCodeOf(error) === 'EEXIST') return false
    throw error
  } finally {
    await fs.rm(tempPath, {force: true})
  }
}

export async function acquireLock(dir: string, onStaleTaken: (pid: number) => void): Promise<StoreLock> {
  const absoluteDir = resolve(dir)
  const path = join(absoluteDir, lockFileName)
  if (heldHere.has(absoluteDir)) throw new StoreLockedError(absoluteDir, process.pid)
  heldHere.add(absoluteDir)
  try {
    await takeLockFile(absoluteDir, path, onStaleTaken)
  } catch (error) {
    heldHere.delete(absoluteDir)
    throw error
  }
  let held = true
  return {
    path,
    async release() {
      if (!held) return
      held = false
      heldHere.delete(absoluteDir)
      await fs.rm(path, {force: true})
    },
    abandon() {
      held = false
      heldHere.delete(absoluteDir)
    },
  }
}

async function takeLockFile(dir: string, path: string, onStaleTaken: (pid: number) => void): Promise<void> {
  await fs.mkdir(dir, {recursive: true})
  for (let attempt = 0; attempt < lockAttemptsMax; attempt++) {
    if (await tryCreate(path)) return
    const owner = await readOwner(path)
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) throw new StoreLockedError(dir, owner)
    // A dead owner, or our own pid with no store here holding it: stale.
    await fs.rm(path, {force: true})
    if (owner !== undefined) onStaleTaken(owner)
  }
  const owner = (await readOwner(path)) ?? 0
  throw new StoreLockedError(dir, owner)
}
