// One shell session: turns a line into either one of the shell's own verbs (use, set,
// contexts...) or a run of the same command `dyn VERB ...` would run, with the session's
// target, R/W settings and remembered context added as flags. Because the very command runs,
// its output and exit code are the command's own; the session only adds a line saying which
// context it used and which one it remembered.
//
// Everything outside (running a command, reading a key before a contextless put, listing the
// nodes) comes in through SessionPorts, so the session is tested without processes.
import type {TargetOptions} from '../cluster/index.js'
import {DynError, exitCodes} from '../core/errors.js'
import {ShellMemory, type RememberedContext} from './memory.js'
import {builtinVerbs, commandVerbs, exitWords, findCommandVerb, type CommandVerb} from './verbs.js'
import {joinWords, splitWords} from './words.js'

export interface CommandRun {
  readonly exitCode: number
  /** What the command returned (its --json document), when it succeeded. */
  readonly result: unknown
}

export interface CommandRunner {
  run(command: string, argv: readonly string[]): Promise<CommandRun>
  /** The flags a command accepts, without dashes. */
  flagsOf(command: string): readonly string[]
}

/** Where the session sends requests: the base target it was started with, and `use`. */
export interface SessionTarget {
  /** The local cluster directory (always set; with host, only for the cluster name). */
  readonly dir: string
  /** HOST:PORT given at start (`dyn shell --host`): no local cluster. */
  readonly host?: string
  readonly cluster?: string
}

export interface KeyState {
  readonly found: boolean
  readonly values: number
}

export interface SessionPorts {
  readonly runner: CommandRunner
  /** Reads a key quietly through the session's target; undefined when that fails. */
  probe(key: string, target: TargetOptions): Promise<KeyState | undefined>
  /** The nodes of the cluster, for `use NAME`. */
  nodes(): Promise<readonly {readonly name: string; readonly address: string}[]>
  /** The readable version vector of a token, or throws. */
  readableContext(token: string): Promise<string>
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

export type Use = {readonly kind: 'cluster'} | {readonly kind: 'node'; readonly name: string} | {readonly kind: 'host'; readonly address: string}

export interface Settings {
  r?: number
  w?: number
}

/** Largest R or W `set` accepts; the node checks it against N. */
export const quorumSettingMax = 64

export class ShellUsageError extends DynError {
  constructor(message: string, suggestion: string) {
    super(message, {code: 'USAGE', exitCode: exitCodes.usage, suggestion})
  }
}

/** Signals the end of the session (`exit`, `quit`). */
export class ExitRequest {
  readonly exitCode: number
  constructor(exitCode: number) {
    this.exitCode = exitCode
  }
}

const addressPattern = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/u

export class Session {
  readonly memory = new ShellMemory()
  private readonly ports: SessionPorts
  private readonly target: SessionTarget
  private use: Use = {kind: 'cluster'}
  private readonly settings: Settings = {}
  private lineNumber = 0
  /** The lines typed so far, oldest first (set by the terminal loop, which keeps them). */
  history: () => readonly string[] = () => []

  constructor(target: SessionTarget, ports: SessionPorts) {
    this.target = target
    this.ports = ports
  }

  /** The prompt: where requests go and the settings in force. */
  prompt(): string {
    const parts = [this.use.kind === 'node' ? this.use.name : this.use.kind === 'host' ? this.use.address : undefined]
    if (this.settings.r !== undefined) parts.push(`r=${this.settings.r}`)
    if (this.settings.w !== undefined) parts.push(`w=${this.settings.w}`)
    const shown = parts.filter((part) => part !== undefined)
    return shown.length === 0 ? 'dyn> ' : `dyn ${shown.join(' ')}> `
  }

  /** Runs one line; resolves with its exit code. Throws ExitRequest on `exit`. */
  async execute(line: string): Promise<number> {
    this.lineNumber++
    try {
      const words = splitWords(line)
      const [verb, ...args] = words
      if (verb === undefined || verb.startsWith('#')) return exitCodes.ok
      return await this.dispatch(verb, args)
    } catch (error) {
      if (error instanceof ExitRequest) throw error
      return this.report(error)
    }
  }

  private async dispatch(verb: string, args: string[]): Promise<number> {
    if (exitWords.has(verb)) throw new ExitRequest(exitCodes.ok)
    switch (verb) {
      case 'help':
        return this.help(args)
      case 'use':
        return this.useTarget(args)
      case 'set':
        return this.set(args)
      case 'unset':
        return this.set([args[0] ?? '', 'default'])
      case 'contexts':
      case 'context':
        return this.showContexts(args)
      case 'forget':
        return this.forget(args)
      case 'history':
        return this.showHistory()
      default: {
        const command = findCommandVerb(verb)
        if (command === undefined) {
          throw new ShellUsageError(`unknown verb "${verb}"`, `type help for the verbs (${commandVerbs.map((entry) => entry.name).join(', ')}, ...)`)
        }
        return this.runCommand(command, withoutSubcommand(command, args))
      }
    }
  }

  private report(error: unknown): number {
    const dynError = error instanceof DynError ? error : undefined
    this.ports.err(`Error: ${error instanceof Error ? error.message : String(error)}`)
    if (dynError?.suggestion !== undefined) this.ports.err(`Try: ${dynError.suggestion}`)
    return dynError?.exitCode ?? exitCodes.error
  }

  // ---- command verbs ----

  private async runCommand(verb: CommandVerb, args: string[]): Promise<number> {
    if (args.includes('-') && verb.name === 'put') {
      throw new ShellUsageError('the shell cannot read a value from standard input', 'write the value on the line (quote it if it has spaces) or give --file PATH')
    }
    const json = args.includes('--json')
    const key = verb.takesKey ? keyOf(args) : undefined
    if (key !== undefined) this.memory.used(key)
    const argv = [...args.filter((arg) => arg !== '--blind'), ...this.addedFlags(verb, args)]
    const blind = args.includes('--blind')
    if (verb.usesContext && key !== undefined && !blind && !hasFlag(args, 'context')) {
      const remembered = this.memory.context(key)
      if (remembered !== undefined) {
        argv.push('--context', remembered.token)
        if (!json) this.ports.out(`using the context of ${key} remembered from line ${remembered.line} (${remembered.from}): ${remembered.clock}`)
      } else if (verb.name === 'put') await this.warnContextless(key, json)
    }
    const run = await this.ports.runner.run(verb.command, argv)
    await this.learn(verb, run, json)
    return run.exitCode
  }

  /** The target and quorum flags of the session, for the flags the command has and the
   * line did not give. */
  private addedFlags(verb: CommandVerb, args: readonly string[]): string[] {
    const accepts = new Set(this.ports.runner.flagsOf(verb.command))
    const added: string[] = []
    const add = (flag: string, value: string | number | undefined) => {
      if (value !== undefined && accepts.has(flag) && !hasFlag(args, flag)) added.push(`--${flag}`, String(value))
    }
    const target = verb.followsUse ? this.targetOptions() : this.baseTargetOptions()
    add('dir', target.dir)
    add('cluster', target.cluster)
    // A line naming its own node or host overrides `use` (the two flags exclude each other).
    if (!hasFlag(args, 'node') && !hasFlag(args, 'host')) {
      add('node', target.node)
      add('host', target.host)
    }
    add('r', this.settings.r)
    add('w', this.settings.w)
    return added
  }

  private async warnContextless(key: string, json: boolean): Promise<void> {
    const state = await this.ports.probe(key, this.targetOptions())
    if (state === undefined || !state.found || json) return
    const values = state.values === 1 ? 'a value' : `${state.values} values`
    this.ports.err(
      `warning: ${key} already has ${values} and this put carries no context, so it will be stored next to ${state.values === 1 ? 'it' : 'them'} as a sibling. ` +
        `To replace ${state.values === 1 ? 'it' : 'them'}, \`get ${key}\` first; to add a sibling on purpose, \`put --blind\`.`,
    )
  }

  /** Where the session started: the whole local cluster, or its --host. */
  private baseTargetOptions(): TargetOptions {
    return {
      dir: this.target.dir,
      ...(this.target.cluster === undefined ? {} : {cluster: this.target.cluster}),
      ...(this.target.host === undefined ? {} : {host: this.target.host}),
    }
  }

  /** Where this session's requests go, as the commands' target flags say it. */
  targetOptions(): TargetOptions {
    const host = this.use.kind === 'host' ? this.use.address : this.use.kind === 'cluster' ? this.target.host : undefined
    return {
      dir: this.target.dir,
      ...(this.target.cluster === undefined ? {} : {cluster: this.target.cluster}),
      ...(this.use.kind === 'node' ? {node: this.use.name} : {}),
      ...(host === undefined ? {} : {host}),
    }
  }

  /** Remembers the context a get, put, delete or resolve answered with. */
  private async learn(verb: CommandVerb, run: CommandRun, json: boolean): Promise<void> {
    if (!verb.takesKey || typeof run.result !== 'object' || run.result === null) return
    const {key, context, siblings} = run.result as {key?: unknown; context?: unknown; siblings?: unknown}
    if (typeof key !== 'string' || typeof context !== 'string') return
    // A write's context covers every sibling the coordinator holds after it; when the write
    // was concurrent with others, those are values this session has not seen, and a put
    // with that context would replace them unseen. Only a read shows what it covers.
    if (typeof siblings === 'number' && siblings > 1) {
      const forgot = this.memory.forget(key)
      if (!json) this.ports.out(`not remembering the context of ${key}: it now has ${siblings} siblings this session has not seen${forgot ? ' (the old one is forgotten too)' : ''}; get ${key} to see them`)
      return
    }
    let clock: string
    try {
      clock = await this.ports.readableContext(context)
    } catch (error) {
      clock = `(unreadable: ${error instanceof Error ? error.message : String(error)})`
    }
    this.memory.remember({key, token: context, clock, from: verb.name, line: this.lineNumber})
    if (!json) this.ports.out(`remembered context of ${key}: ${clock === '' ? '(empty)' : clock}  token ${context}`)
  }

  // ---- the shell's own verbs ----

  private help(args: string[]): number {
    const [verb] = args
    if (verb !== undefined) {
      const command = findCommandVerb(verb)
      if (command !== undefined) {
        this.ports.out(`${command.usage}\n  ${command.summary}\n  (all flags: ${command.name} --help)`)
        return exitCodes.ok
      }
      const builtin = builtinVerbs.find((entry) => entry.name === verb)
      if (builtin === undefined) throw new ShellUsageError(`no verb "${verb}"`, 'type help for the list')
      this.ports.out(`${builtin.usage}\n  ${builtin.summary}`)
      return exitCodes.ok
    }
    const lines = ['Commands (the same as `dyn VERB`, with the same flags and output):']
    for (const entry of commandVerbs) lines.push(`  ${entry.usage}`, `      ${entry.summary}`)
    lines.push('Shell:')
    for (const entry of builtinVerbs) lines.push(`  ${entry.usage}`, `      ${entry.summary}`)
    lines.push('Quote values with spaces (\'a b\' or "a b"). Tab completes verbs, flags and recent keys; Ctrl-C cancels the line.')
    this.ports.out(lines.join('\n'))
    return exitCodes.ok
  }

  private async useTarget(args: string[]): Promise<number> {
    const [where, extra] = args
    if (extra !== undefined) throw new ShellUsageError('use takes one node', 'use NODE, use HOST:PORT, or use alone for the whole cluster')
    if (where === undefined || where === 'all' || where === 'cluster') {
      this.use = {kind: 'cluster'}
      this.ports.out(this.target.host === undefined ? 'requests go to the whole cluster (to each key\'s first replica)' : `requests go to ${this.target.host}`)
      return exitCodes.ok
    }
    if (addressPattern.test(where)) {
      this.use = {kind: 'host', address: where}
      this.ports.out(`requests go to ${where}, which coordinates or forwards them`)
      return exitCodes.ok
    }
    const nodes = await this.ports.nodes()
    const node = nodes.find((entry) => entry.name === where)
    if (node === undefined) throw new ShellUsageError(`no node "${where}" in this cluster`, `use one of ${nodes.map((entry) => entry.name).join(', ')}, or HOST:PORT`)
    // Without a local cluster directory a node is reached by its address.
    this.use = this.target.host === undefined ? {kind: 'node', name: where} : {kind: 'host', address: node.address}
    this.ports.out(`requests go to ${where}, which coordinates or forwards them`)
    return exitCodes.ok
  }

  private set(args: string[]): number {
    const [name, value, extra] = args
    if (name === undefined) {
      this.ports.out(`r: ${this.settings.r ?? 'the cluster default'}\nw: ${this.settings.w ?? 'the cluster default'}\nrequests go to: ${this.describeUse()}`)
      return exitCodes.ok
    }
    if ((name !== 'r' && name !== 'w') || value === undefined || extra !== undefined) {
      throw new ShellUsageError(`set takes r or w and a number, not "${args.join(' ')}"`, 'set r 1, set w 3, or set r default')
    }
    if (value === 'default') {
      delete this.settings[name]
      this.ports.out(`${name}: the cluster default`)
      return exitCodes.ok
    }
    const number = Number(value)
    if (!Number.isSafeInteger(number) || number < 1 || number > quorumSettingMax) {
      throw new ShellUsageError(`${name} must be a whole number from 1 to N, not "${value}"`, `set ${name} 1 .. set ${name} N (the cluster's replica count), or set ${name} default`)
    }
    this.settings[name] = number
    this.ports.out(`${name}: ${number} for every request from now on`)
    return exitCodes.ok
  }

  private describeUse(): string {
    switch (this.use.kind) {
      case 'cluster':
        return this.target.host ?? 'the whole cluster'
      case 'node':
        return this.use.name
      case 'host':
        return this.use.address
    }
  }

  private showContexts(args: string[]): number {
    const [key] = args
    const entries: RememberedContext[] = key === undefined ? this.memory.allContexts() : [this.memory.context(key)].filter((entry) => entry !== undefined)
    if (entries.length === 0) {
      this.ports.out(key === undefined ? 'no contexts remembered yet: get a key first' : `no context remembered for ${key}: the next put of it is blind`)
      return exitCodes.ok
    }
    for (const entry of entries) this.ports.out(`${joinWords([entry.key])}: ${entry.clock === '' ? '(empty)' : entry.clock}  (line ${entry.line}, ${entry.from})  token ${entry.token}`)
    return exitCodes.ok
  }

  private showHistory(): number {
    const lines = this.history()
    this.ports.out(lines.length === 0 ? 'no history here (it is kept on a terminal)' : lines.map((line, index) => `${String(index + 1).padStart(5)}  ${line}`).join('\n'))
    return exitCodes.ok
  }

  private forget(args: string[]): number {
    const [key, extra] = args
    if (key === undefined || extra !== undefined) throw new ShellUsageError('forget takes one key, or --all', 'forget KEY or forget --all')
    if (key === '--all') {
      this.ports.out(`forgot ${this.memory.forgetAll()} contexts`)
      return exitCodes.ok
    }
    this.ports.out(this.memory.forget(key) ? `forgot the context of ${key}: the next put of it is blind` : `no context was remembered for ${key}`)
    return exitCodes.ok
  }
}

/** The arguments after a verb's subcommand word (`merkle diff A B`: A B). */
function withoutSubcommand(verb: CommandVerb, args: readonly string[]): string[] {
  if (verb.subcommand === undefined) return [...args]
  if (args[0] !== verb.subcommand) throw new ShellUsageError(`${verb.name} takes ${verb.subcommand} first`, verb.usage)
  return args.slice(1)
}

/** The key argument: the first word after the verb, unless it is a flag. */
function keyOf(args: readonly string[]): string | undefined {
  const [first] = args
  return first === undefined || first.startsWith('-') ? undefined : first
}

function hasFlag(args: readonly string[], name: string): boolean {
  return args.some((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`))
}
