import {setTimeout as sleep} from 'node:timers/promises'
import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {dirFlag, optionalRangeFlag, rangeFlag, tlsFlags} from '../cli/flags.js'
import {LiveScreen} from '../cli/screen.js'
import {NoRunningNodeError} from '../cluster/index.js'
import {pollNode, pollTimeoutMsFor, TopHostsUnreachableError, topTargets, type TopSource, type TopTargets} from '../cluster/top.js'
import {historyPoint, nodeRow, TopHistory, type NodePoll, type NodeRow} from '../core/top.js'
import {topJson, topScreen, topText, type TopFrame} from '../render/top.js'

/** Shortest interval between two looks: each look is two HTTP requests per node; ten a
 * second is as live as a person can read, and keeps a 32-node view under 1000 requests/s. */
const intervalMsMin = 100
const intervalMsMax = 60_000
const intervalMsDefault = 1_000
/** A day of samples at the default interval: a bound, not a goal. */
const samplesMax = 86_400

export default class Top extends BaseCommand {
  static override description =
    'A live view of every node of a cluster, refreshed every second: state, gets and puts per second, p50/p99 latency, quorum failures, ' +
    'hints held and delivered, anti-entropy progress, handoffs, suspects and fault cuts, disk and memory, with charts of the last minute. ' +
    'q or Ctrl-C quits. When standard output is not a terminal, or with --json, it prints one snapshot (or --samples N of them) instead'
  static override examples = [
    '<%= config.bin %> top',
    '<%= config.bin %> top --dir /tmp/dyn --interval 500',
    '<%= config.bin %> top --host 10.0.0.1:8001,10.0.0.2:8001,10.0.0.3:8001',
    '<%= config.bin %> top --json',
    '<%= config.bin %> top --json --interval 1000 --samples 10',
  ]
  static override flags = {
    dir: dirFlag,
    host: Flags.string({
      description: "the HTTP admin address (HOST:PORT of /status and /metrics, not the wire port) of a node to show instead of a local cluster; repeat it or separate addresses with commas",
      multiple: true,
      delimiter: ',',
    }),
    interval: rangeFlag({min: intervalMsMin, max: intervalMsMax, default: intervalMsDefault, description: 'milliseconds between two looks at the nodes'}),
    samples: optionalRangeFlag({min: 1, max: samplesMax, description: 'stop after this many samples; with --json, print each as one JSON line'}),
    ...tlsFlags,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Top)
    const source: TopSource = flags.host === undefined || flags.host.length === 0 ? {kind: 'dir', dir: flags.dir} : {kind: 'hosts', hosts: flags.host}
    const poller = new Poller(source, flags.interval)
    // Fails here, before the screen is taken, when there is no cluster or an address is malformed.
    await poller.targets()
    if (process.stdout.isTTY === true && !this.jsonEnabled()) {
      await this.live(poller, flags.samples)
      return undefined
    }
    return this.snapshots(poller, flags.samples)
  }

  /** The full-screen view until q, Ctrl-C or --samples. */
  private async live(poller: Poller, samples: number | undefined): Promise<void> {
    const screen = new LiveScreen({input: process.stdin, output: process.stdout})
    const quit = new AbortController()
    let frame: TopFrame | undefined
    const draw = (): void => {
      if (frame === undefined) return
      const {columns, rows} = screen.size
      screen.draw(topScreen(frame, {columns, rows, color: (process.env['NO_COLOR'] ?? '') === '', unicode: utf8Locale(), history: (address) => poller.history.of(address)}))
    }
    screen.start({onQuit: () => quit.abort(), onResize: draw})
    try {
      for (let sample = 0; samples === undefined || sample < samples; sample++) {
        const startedMs = performance.now()
        frame = await poller.poll()
        draw()
        if (quit.signal.aborted) break
        await sleep(Math.max(0, startedMs + poller.intervalMs - performance.now()), undefined, {signal: quit.signal}).catch(() => undefined)
        if (quit.signal.aborted) break
      }
    } finally {
      screen.stop()
    }
  }

  /** One snapshot, or `samples` of them: rates need two looks, so the first look is a
   * baseline, and each snapshot is over the interval before it. */
  private async snapshots(poller: Poller, samples: number | undefined): Promise<unknown> {
    const lines = samples !== undefined && this.jsonEnabled()
    this.requireAnswer(poller, await poller.poll())
    let frame: TopFrame | undefined
    for (let sample = 0; sample < (samples ?? 1); sample++) {
      await sleep(poller.intervalMs)
      frame = await poller.poll()
      this.requireAnswer(poller, frame)
      if (lines) process.stdout.write(`${JSON.stringify(topJson(frame))}\n`)
      else if (!this.jsonEnabled()) this.log(`${sample === 0 ? '' : '\n'}${topText(frame)}`)
    }
    return lines || frame === undefined ? undefined : topJson(frame)
  }

  /** A snapshot in which no node answered is a failure (exit 1), as for `cluster status --host`. */
  private requireAnswer(poller: Poller, frame: TopFrame): void {
    if (frame.rows.some((row) => row.state === 'serving' || row.state === 'stopping')) return
    const problems = frame.rows.map((row) => `${row.name === row.httpAddress ? row.name : `${row.name} (${row.httpAddress})`}: ${row.problem ?? row.state}`)
    if (poller.source.kind === 'hosts') throw new TopHostsUnreachableError(problems)
    throw new NoRunningNodeError(poller.source.dir, problems)
  }
}

/** Looks at every node, keeps each one's previous look (rates) and the last minute of rows
 * (charts). Nodes are told apart by their HTTP address, which a --host node's name is not
 * known before it answers. */
class Poller {
  readonly history = new TopHistory()
  private readonly previous = new Map<string, NodePoll>()
  private known: TopTargets | undefined

  constructor(
    readonly source: TopSource,
    readonly intervalMs: number,
  ) {}

  async targets(): Promise<TopTargets> {
    this.known = await topTargets(this.source)
    return this.known
  }

  async poll(): Promise<TopFrame> {
    let problem: string | undefined
    let targets = this.known
    try {
      targets = await this.targets()
    } catch (error) {
      // Shown on the screen; the nodes last known are still looked at.
      if (targets === undefined) throw error
      problem = error instanceof Error ? error.message : String(error)
    }
    const timeoutMs = pollTimeoutMsFor(this.intervalMs)
    const polls = await Promise.all(targets.targets.map((target) => pollNode(target, {timeoutMs, nowMs: () => performance.now()})))
    const rows: NodeRow[] = polls.map((poll) => {
      const row = nodeRow(this.previous.get(poll.httpAddress), poll)
      this.previous.set(poll.httpAddress, poll)
      this.history.add(poll.httpAddress, historyPoint(row, poll.atMs))
      return row
    })
    const cluster = targets.cluster ?? polls.map((poll) => (poll.kind === 'up' ? poll.figures.cluster : undefined)).find((name) => name !== undefined)
    return {
      cluster,
      source: this.source.kind === 'dir' ? {dir: this.source.dir} : {hosts: this.source.hosts},
      intervalMs: this.intervalMs,
      time: new Date().toISOString(),
      rows,
      problem,
    }
  }
}

/** Whether the terminal takes UTF-8 (the charts' block characters), from the locale. */
function utf8Locale(): boolean {
  const locale = process.env['LC_ALL'] ?? process.env['LC_CTYPE'] ?? process.env['LANG'] ?? ''
  return /utf-?8/iu.test(locale)
}
