import {createReadStream} from 'node:fs'
import {access} from 'node:fs/promises'
import {resolve} from 'node:path'
import {createInterface} from 'node:readline'
import {Errors, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {dirFlag, tlsFlags} from '../cli/flags.js'
import {DynError, exitCodes} from '../core/errors.js'
import {clusterPorts, HistoryFile, historyPath, runInteractive, runScript, Session, type CommandRunner} from '../shell/index.js'

class ScriptFileError extends DynError {
  constructor(path: string, problem: string) {
    super(`cannot read the script ${path}: ${problem}`, {code: 'USAGE', exitCode: exitCodes.usage, suggestion: 'give -f the path of a file with one shell line per line'})
  }
}

export default class Shell extends BaseCommand {
  // The shell prints the commands' own output; a --json of its own would mean nothing.
  static override enableJsonFlag = false

  static override summary = 'A shell for get, put, delete and resolve that remembers the context of each key'

  static override description =
    'The verbs are the commands (get, put, delete, resolve, conflicts, ring, status, merkle diff) with their flags ' +
    'and output, plus use NODE, set r N / set w N, contexts, forget KEY and help. A put or delete of a key the shell ' +
    'has read uses the context of that read unless given --blind or --context; a put without any context on a key ' +
    'that exists warns that it becomes a sibling. On a terminal: history across sessions, Tab completion of verbs, ' +
    'flags and recent keys, Ctrl-C cancels the line, Ctrl-D leaves. With -f FILE or lines on standard input it runs ' +
    'them as a script, echoing each line, and stops at the first line that fails with its exit code (--continue runs ' +
    'every line and exits with the first failure\'s code).'

  static override examples = [
    '<%= config.bin %> shell',
    '<%= config.bin %> shell --host 10.0.0.5:7001 --cluster prod',
    '<%= config.bin %> shell -f smoke.dyn',
    "printf 'put cart apple\\nget cart\\n' | <%= config.bin %> shell",
  ]

  static override flags = {
    dir: dirFlag,
    host: Flags.string({description: 'talk to the cluster through the node at HOST:PORT instead of a local cluster', env: 'DYN_HOST'}),
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
    file: Flags.string({char: 'f', description: 'run the lines of this file, then exit'}),
    continue: Flags.boolean({description: 'in a script, run every line even after one fails'}),
    history: Flags.string({description: 'history file (default: $XDG_STATE_HOME/dyn/shell_history)', env: 'DYN_SHELL_HISTORY'}),
    ...tlsFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Shell)
    const target = {dir: flags.dir, ...(flags.host === undefined ? {} : {host: flags.host}), ...(flags.cluster === undefined ? {} : {cluster: flags.cluster})}
    const runner = this.runner()
    const out = (text: string) => process.stdout.write(`${text}\n`)
    const err = (text: string) => process.stderr.write(`${text}\n`)
    const ports = clusterPorts(target)
    const session = new Session(target, {...ports, runner, out, err})
    let exitCode: number
    if (flags.file !== undefined) {
      exitCode = await runScript(session, await scriptLines(flags.file), {keepGoing: flags.continue, out, err, source: flags.file})
    } else if (process.stdin.isTTY !== true) {
      exitCode = await runScript(session, createInterface({input: process.stdin, terminal: false}), {keepGoing: flags.continue, out, err, source: 'standard input'})
    } else {
      const history = new HistoryFile(flags.history ?? historyPath(), err)
      const nodeNames = async () => (await ports.nodes()).map((node) => node.name)
      const where = flags.host ?? resolve(flags.dir)
      exitCode = await runInteractive(session, {input: process.stdin, output: process.stdout, history, flagsOf: runner.flagsOf, nodeNames, where})
    }
    process.exitCode = exitCode
  }

  /** Runs the commands themselves, in this process: the same code, flags and output. */
  private runner(): CommandRunner {
    return {
      run: async (command, argv) => {
        process.exitCode = undefined
        let result: unknown
        try {
          result = await this.config.runCommand(command, [...argv])
        } catch (error) {
          // `--help` ends a command with an ExitError; anything else was not rendered yet.
          if (error instanceof Errors.ExitError) return {exitCode: error.oclif.exit ?? exitCodes.ok, result: undefined}
          await this.catch(error as Error)
        }
        const exitCode = Number(process.exitCode ?? exitCodes.ok)
        process.exitCode = undefined
        return {exitCode, result}
      },
      flagsOf: (command) => Object.keys(this.config.findCommand(command)?.flags ?? {}),
    }
  }
}

async function scriptLines(path: string): Promise<AsyncIterable<string>> {
  try {
    await access(path)
  } catch (error) {
    throw new ScriptFileError(path, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message)
  }
  return createInterface({input: createReadStream(path), terminal: false, crlfDelay: Infinity})
}
