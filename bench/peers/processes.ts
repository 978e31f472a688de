// The servers bench/cluster.ts starts: spawned with their output in log files of the run's
// temporary directory, tracked so that every exit path (the end, a failure, Ctrl-C) stops
// them, and ports found free on 127.0.0.1.
import {spawn, type ChildProcess} from 'node:child_process'
import {openSync, closeSync, readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'

export const loopback = '127.0.0.1'

/** How long a stopped server may take to exit after SIGTERM before it gets SIGKILL: the
 * servers here flush a log and close sockets, which takes well under a second. */
export const stopGraceMs = 5_000

/** How long a server may take from spawn to answering: etcd elects a leader and dyn nodes
 * open their stores within a few seconds even on a loaded machine. */
export const startTimeoutMs = 60_000

/** How often a starting server is asked whether it is ready. */
const readyPollMs = 100

/** Ports are picked from here: below Linux's default ephemeral range (32768–60999), so
 * that no outgoing connection of this machine holds one of them as its own local port
 * while a server wants to bind it. */
const portRangeMin = 20_000
const portRangeMax = 32_000

/** Random draws per port before giving up: a machine with most of 12,000 ports taken
 * has a bigger problem than this benchmark. */
const portDrawsMax = 200

/** Lines of a server's log shown when it failed to start. */
const logTailLines = 20

export class ServerExitedError extends Error {}

interface Tracked {
  readonly child: ChildProcess
  readonly logPath: string
}

/** Every process started for the run. */
export class ProcessGroup {
  private readonly tracked: Tracked[] = []

  /** Starts `command` with stdout and stderr appended to `logPath`, with `env` added to
   * this process's environment. */
  spawn(command: string, args: readonly string[], logPath: string, env?: Readonly<Record<string, string>>): ChildProcess {
    const fd = openSync(logPath, 'a')
    try {
      const child = spawn(command, args, {stdio: ['ignore', fd, fd], ...(env === undefined ? {} : {env: {...process.env, ...env}})})
      // A spawn failure (ENOENT) arrives as an event; waitReady reports it as an exit.
      child.on('error', () => undefined)
      this.tracked.push({child, logPath})
      return child
    } finally {
      closeSync(fd)
    }
  }

  /** Polls `check` until it resolves true; throws when the process exits first or the
   * timeout passes, with the end of its log. */
  async waitReady(child: ChildProcess, check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = performance.now() + startTimeoutMs
    while (performance.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new ServerExitedError(`${what} exited before it was ready${this.tail(child)}`)
      if (await check().catch(() => false)) return
      await sleep(readyPollMs)
    }
    throw new ServerExitedError(`${what} was not ready after ${startTimeoutMs} ms${this.tail(child)}`)
  }

  /** SIGTERM to every live process, SIGKILL to those still alive after stopGraceMs. */
  async stopAll(): Promise<void> {
    const live = this.tracked.filter(({child}) => isAlive(child))
    for (const {child} of live) child.kill('SIGTERM')
    const deadline = performance.now() + stopGraceMs
    while (live.some(({child}) => isAlive(child)) && performance.now() < deadline) await sleep(readyPollMs)
    this.killAll()
  }

  /** SIGKILL to every live process, synchronously: the last resort on process exit. */
  killAll(): void {
    for (const {child} of this.tracked) if (isAlive(child)) child.kill('SIGKILL')
  }

  private tail(child: ChildProcess): string {
    const entry = this.tracked.find((tracked) => tracked.child === child)
    if (entry === undefined) return ''
    let text: string
    try {
      text = readFileSync(entry.logPath, 'utf8')
    } catch {
      return ''
    }
    const lines = text.trimEnd().split('\n').slice(-logTailLines)
    return lines.length === 0 || lines[0] === '' ? '' : `; last lines of ${entry.logPath}:\n${lines.join('\n')}`
  }
}

function isAlive(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null
}

/** `count` distinct ports that 127.0.0.1 could bind a moment ago. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>()
  for (let draws = 0; ports.size < count; draws++) {
    if (draws >= portDrawsMax * count) throw new Error(`no ${count} free ports on ${loopback} between ${portRangeMin} and ${portRangeMax}`)
    const port = portRangeMin + Math.floor(Math.random() * (portRangeMax - portRangeMin))
    if (!ports.has(port) && (await canBind(port))) ports.add(port)
  }
  return [...ports]
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({host: loopback, port, exclusive: true}, () => server.close(() => resolve(true)))
  })
}
