// `dyn get` without oclif. A get is the command people run in loops and scripts, and
// loading oclif costs more than the read itself (about 150 ms of CPU on a small machine
// against a few ms for the read), so bin/run.js runs a plain get here: the same flags, the
// same output, the same exit codes as src/commands/get.ts. Anything this parser is not sure
// it reads exactly as oclif would (--help, an unknown or repeated flag, a value that is not
// a whole number for --r, `--`, a second argument, --json on a terminal where oclif may
// colour it) returns undefined, and oclif runs the command and reports any mistake; so do
// TLS settings (--tls-* or DYN_TLS_*), which the full command applies.
// test/cli/fast-get.test.ts compares the flags with the command's and the output of both.
//
// The client and the cluster directory come in as ports: this folder may not import them
// (scripts/check-imports.mjs), and bin/run.js, which wires them, loads only what a get uses.
import {exitCodes, type ExitCode} from '../core/errors.js'
import {NodeFailureError, type SiblingView} from '../core/protocol.js'
import type {GetQuorumDetails} from '../core/quorum.js'
import {describeOtherError, errorJson, errorText} from './error-report.js'

/** The flags of `dyn get` as src/commands/get.ts declares them: option flags with their
 * environment variable and default, and boolean flags (`--json` is oclif's). */
export const getFlags = {
  options: {
    r: {},
    node: {},
    host: {env: 'DYN_HOST'},
    dir: {env: 'DYN_DIR', default: './.dyn'},
    cluster: {env: 'DYN_CLUSTER'},
    'tls-ca': {env: 'DYN_TLS_CA'},
    'tls-cert': {env: 'DYN_TLS_CERT'},
    'tls-key': {env: 'DYN_TLS_KEY'},
  },
  booleans: ['show-clock', 'json'],
} as const satisfies {options: Record<string, {env?: string; default?: string}>; booleans: readonly string[]}

type OptionName = keyof typeof getFlags.options

export interface GetTargetOptions {
  readonly dir: string
  readonly host?: string
  readonly node?: string
  readonly cluster?: string
}

export interface GetRequest {
  readonly key: string
  readonly r?: number
  readonly showClock: boolean
  readonly json: boolean
  readonly target: GetTargetOptions
}

export interface ParseContext {
  readonly env: Readonly<Record<string, string | undefined>>
  /** Whether oclif might colour --json output: stdout is a terminal, or FORCE_COLOR is set. */
  readonly jsonMayBeColoured: boolean
}

function isOption(name: string): name is OptionName {
  return Object.hasOwn(getFlags.options, name)
}

/** The get that argv (after `get`) asks for, or undefined to leave it to oclif. */
export function parseGet(argv: readonly string[], context: ParseContext): GetRequest | undefined {
  const options = new Map<OptionName, string>()
  const booleans = new Set<string>()
  const args: string[] = []
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index] ?? ''
    if (!token.startsWith('-')) {
      args.push(token)
      continue
    }
    if (!token.startsWith('--') || token === '--') return undefined
    const equals = token.indexOf('=')
    const name = token.slice(2, equals === -1 ? undefined : equals)
    if ((getFlags.booleans as readonly string[]).includes(name)) {
      if (equals !== -1 || booleans.has(name)) return undefined
      booleans.add(name)
      continue
    }
    if (!isOption(name) || options.has(name)) return undefined
    const value = equals === -1 ? argv[++index] : token.slice(equals + 1)
    if (value === undefined || value === '' || value.startsWith('-')) return undefined
    options.set(name, value)
  }
  const [key, ...more] = args
  if (key === undefined || key === '' || more.length > 0) return undefined
  const json = booleans.has('json')
  if (json && context.jsonMayBeColoured) return undefined
  // oclif: a flag given wins over its environment variable (when set and not empty), which
  // wins over the default.
  const valueOf = (name: OptionName): string | undefined => {
    const flag: {env?: string; default?: string} = getFlags.options[name]
    const fromEnv = flag.env === undefined ? undefined : context.env[flag.env]
    return options.get(name) ?? (fromEnv === undefined || fromEnv === '' ? undefined : fromEnv) ?? flag.default
  }
  // TLS is the full command's: node:tls and the checks of the files are not worth this
  // path's start-up for the plaintext gets it is for.
  if (valueOf('tls-ca') !== undefined || valueOf('tls-cert') !== undefined || valueOf('tls-key') !== undefined) return undefined
  const r = valueOf('r')
  // Flags.integer({min: 1}) in get.ts; anything else is oclif's to refuse.
  if (r !== undefined && (!/^\d+$/.test(r) || !Number.isSafeInteger(Number(r)) || Number(r) < 1)) return undefined
  const host = valueOf('host')
  const node = valueOf('node')
  const cluster = valueOf('cluster')
  return {
    key,
    ...(r === undefined ? {} : {r: Number(r)}),
    showClock: booleans.has('show-clock'),
    json,
    target: {
      dir: valueOf('dir') ?? getFlags.options.dir.default,
      ...(host === undefined ? {} : {host}),
      ...(node === undefined ? {} : {node}),
      ...(cluster === undefined ? {} : {cluster}),
    },
  }
}

export interface GetReply {
  readonly found: boolean
  readonly siblings: readonly SiblingView[]
  readonly context: string
  readonly quorum: GetQuorumDetails
}

/** What a get needs from the world: the cluster directory and a client. */
export interface GetPorts<T extends {readonly cluster: string}> {
  resolveTarget(options: GetTargetOptions): Promise<T>
  open(target: T): {get(key: string, options: {r?: number}): Promise<GetReply>; close(): Promise<void>}
}

export interface GetStreams {
  stdout(text: string): void
  stderr(text: string): void
  readonly stdoutColor: boolean
  readonly stderrColor: boolean
}

/** oclif's logJson without colour: two-space indented, one line feed after. */
function jsonText(document: unknown): string {
  return `${JSON.stringify(document, undefined, 2)}\n`
}

/** The renderers a get uses (not render/index.js, which loads every command's), and in
 * text mode cli-table3. Loaded while the request is on the wire: a get spends most of its
 * time waiting for replicas, and this process has nothing else to do meanwhile. */
async function loadRenderers(json: boolean) {
  const [context, shapes, tables, table] = await Promise.all([
    import('../render/context.js'),
    import('../render/shapes.js'),
    import('../render/tables.js'),
    import('../render/table.js'),
  ])
  if (!json) table.loadTable()
  return {readableContext: context.readableContext, getJson: shapes.getJson, quorumFailureJson: shapes.quorumFailureJson, getText: tables.getText, quorumTable: tables.quorumTable}
}

/** Runs the get and prints it as `dyn get` does (get.ts, kv-command.ts, base-command.ts);
 * returns the exit code. */
export async function runGet<T extends {readonly cluster: string}>(request: GetRequest, ports: GetPorts<T>, streams: GetStreams): Promise<ExitCode> {
  let renderers: ReturnType<typeof loadRenderers> | undefined
  try {
    const target = await ports.resolveTarget(request.target)
    const client = ports.open(target)
    try {
      // The request first, so that its connection is being opened while the renderers load.
      const reading = client.get(request.key, request.r === undefined ? {} : {r: request.r})
      renderers = loadRenderers(request.json)
      const [result, {readableContext, getJson, getText}] = await Promise.all([reading, renderers])
      const input = {key: request.key, ...result, ...(request.showClock ? {clock: readableContext(result.context, target.cluster)} : {})}
      if (request.json) streams.stdout(jsonText(getJson(input)))
      else streams.stdout(`${getText(input, {color: streams.stdoutColor})}\n`)
      return result.found ? exitCodes.ok : exitCodes.notFound
    } finally {
      await client.close()
    }
  } catch (error) {
    const {quorumFailureJson, quorumTable} = await (renderers ?? loadRenderers(request.json))
    const report = describeOtherError(error)
    const quorum = error instanceof NodeFailureError ? error.quorum : undefined
    if (request.json) {
      streams.stdout(jsonText(quorum === undefined ? errorJson(report) : quorumFailureJson(report, quorum)))
      return report.exitCode
    }
    if (quorum !== undefined) streams.stderr(`${quorumTable(quorum, {color: streams.stderrColor})}\n`)
    streams.stderr(errorText(report))
    return report.exitCode
  }
}
