// The node processes of a local cluster: is one still ours and alive, and stopping it with
// a bound (SIGTERM, then SIGKILL), so `dyn cluster down` never leaves a process behind.
import {readFile} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'

/** How often a stop polls whether the process is gone: short against the grace period,
 * long enough not to spin. */
export const exitPollMs = 50

/** How long `down` waits after SIGTERM before SIGKILL. A node's graceful close waits up to
 * the net's closeTimeoutMs (5 s) for requests in flight, then syncs and closes its store;
 * 10 s covers that on a loaded machine. */
export const stopGraceMsDefault = 10_000

/** How long to wait for the kernel to remove a process after SIGKILL. */
const killWaitMs = 5_000

/**
 * True when `pid` is alive and is the node started with `configPath`. A pid recorded in
 * cluster.json may have been reused by an unrelated process after a reboot or a crash; on
 * Linux the command line in /proc tells them apart. Elsewhere only liveness is checked.
 */
export async function isNodeProcess(pid: number | null, configPath: string): Promise<boolean> {
  if (pid === null || !isAlive(pid)) return false
  let cmdline: string
  try {
    cmdline = (await readFile(`/proc/${pid}/cmdline`)).toString('utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // No /proc (macOS, BSD): trust the liveness check. A process that vanished: not ours.
    return code !== 'ENOENT' || !(await procMounted())
  }
  // A zombie (exited, not yet reaped) has an empty command line.
  return cmdline.split('\0').includes(configPath)
}

async function procMounted(): Promise<boolean> {
  try {
    await readFile('/proc/self/cmdline')
    return true
  } catch {
    return false
  }
}

/** Whether a process with this pid exists (and may be signalled). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export type StopOutcome = 'stopped' | 'killed' | 'notRunning'

/** SIGTERM, wait up to graceMs, then SIGKILL and wait for the process to go. */
export async function stopProcess(pid: number, options: {graceMs?: number; isRunning: () => Promise<boolean>}): Promise<StopOutcome> {
  if (!(await options.isRunning())) return 'notRunning'
  signal(pid, 'SIGTERM')
  if (await waitUntilGone(options.isRunning, options.graceMs ?? stopGraceMsDefault)) return 'stopped'
  signal(pid, 'SIGKILL')
  await waitUntilGone(() => stillThere(pid, options.isRunning), killWaitMs)
  return 'killed'
}

/** SIGKILL (a crash: no graceful close, unsynced writes may be lost) and wait for the
 * process to go. */
export async function killProcess(pid: number, options: {isRunning: () => Promise<boolean>}): Promise<'killed' | 'notRunning'> {
  if (!(await options.isRunning())) return 'notRunning'
  signal(pid, 'SIGKILL')
  await waitUntilGone(() => stillThere(pid, options.isRunning), killWaitMs)
  return 'killed'
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

async function waitUntilGone(isRunning: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (!(await isRunning())) return true
    await sleep(exitPollMs)
  }
  return !(await isRunning())
}

/** After SIGKILL: running, or not yet exited. A dying process's command line can read
 * empty while it is still being torn down; it is gone for good once it is a zombie or
 * reaped. */
async function stillThere(pid: number, isRunning: () => Promise<boolean>): Promise<boolean> {
  return (await isRunning()) || !(await hasExited(pid))
}

/** Whether the process has exited: a zombie, or gone (and where /proc does not tell). */
async function hasExited(pid: number): Promise<boolean> {
  let stat: string
  try {
    stat = (await readFile(`/proc/${pid}/stat`)).toString('utf8')
  } catch {
    return true
  }
  // "pid (command) state ...": the command may hold spaces and parentheses; the state
  // follows the last ')'.
  const state = stat.charAt(stat.lastIndexOf(')') + 2)
  return state === 'Z' || state === 'X'
}
