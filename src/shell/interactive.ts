// The shell on a terminal: node:readline with history, tab completion, Ctrl-C to cancel
// the line and Ctrl-D to leave.
//
// The readline is closed while a line runs and made anew for the next prompt. A command
// may ask questions (`resolve` on a terminal asks with inquirer), and two readers on one
// terminal fight over its keys; pausing the readline is not enough, closing it is. While a
// line runs, Ctrl-C reaches the process as SIGINT and is answered with a note instead of
// ending the shell.
import {createInterface, type Interface} from 'node:readline'
import type {Readable, Writable} from 'node:stream'
import {exitCodes} from '../core/errors.js'
import {complete} from './completion.js'
import {historyLinesMax, type HistoryFile} from './history.js'
import {ExitRequest, type Session} from './session.js'

export interface InteractiveOptions {
  readonly input: Readable & {isTTY?: boolean}
  readonly output: Writable & {isTTY?: boolean}
  readonly history: HistoryFile
  readonly flagsOf: (command: string) => readonly string[]
  /** Node names for the greeting and completion, fetched once at start. */
  readonly nodeNames: () => Promise<readonly string[]>
  /** What the shell talks to, for the greeting: a directory or HOST:PORT. */
  readonly where: string
}

type Read = {readonly kind: 'line'; readonly line: string} | {readonly kind: 'end'}

export async function runInteractive(session: Session, options: InteractiveOptions): Promise<number> {
  // readline keeps history newest first.
  const history = (await options.history.load()).reverse()
  session.history = () => [...history].reverse()
  const nodeNames = await greet(options)
  const completer = (line: string) => complete(line, {flagsOf: options.flagsOf, recentKeys: session.memory.recentKeys(), nodeNames})
  for (;;) {
    const read = await readOne({...options, history, completer, prompt: session.prompt()})
    if (read.kind === 'end') {
      options.output.write('\n')
      return exitCodes.ok
    }
    await options.history.append(read.line)
    try {
      await whileRunning(() => session.execute(read.line), options.output)
    } catch (error) {
      if (error instanceof ExitRequest) return error.exitCode
      throw error
    }
  }
}

/** Says what the shell talks to, or why that cannot be reached (the shell starts anyway:
 * the cluster may be started from another terminal). */
async function greet(options: InteractiveOptions): Promise<readonly string[]> {
  let names: readonly string[] = []
  try {
    names = await options.nodeNames()
    options.output.write(`dyn shell on ${options.where}: ${names.join(', ')}\n`)
  } catch (error) {
    options.output.write(`dyn shell on ${options.where}, which does not answer now: ${error instanceof Error ? error.message : String(error)}\n`)
  }
  options.output.write('type help for the verbs, Tab to complete, Ctrl-D to leave\n')
  return names
}

interface ReadOptions extends Omit<InteractiveOptions, 'history'> {
  readonly history: string[]
  readonly completer: (line: string) => [string[], string]
  readonly prompt: string
}

/** One line from a fresh readline, which is closed again before this resolves. */
function readOne(options: ReadOptions): Promise<Read> {
  const terminal = options.input.isTTY === true && options.output.isTTY === true
  const rl: Interface = createInterface({
    input: options.input,
    output: options.output,
    terminal,
    completer: options.completer,
    // The same array each time: readline adds the new line to it.
    history: options.history,
    historySize: historyLinesMax,
    removeHistoryDuplicates: true,
    prompt: options.prompt,
  })
  return new Promise((resolve) => {
    let settled = false
    const settle = (read: Read) => {
      if (settled) return
      settled = true
      rl.close()
      resolve(read)
    }
    rl.on('line', (line) => settle({kind: 'line', line}))
    rl.on('close', () => settle({kind: 'end'}))
    rl.on('SIGINT', () => cancelLine(rl, options.output))
    rl.prompt()
  })
}

/** Ctrl-C: drop what was typed and prompt again, as a shell does. */
function cancelLine(rl: Interface, output: Writable): void {
  rl.write(null, {ctrl: true, name: 'e'})
  rl.write(null, {ctrl: true, name: 'u'})
  output.write('^C\n')
  rl.prompt()
}

async function whileRunning<T>(task: () => Promise<T>, output: Writable): Promise<T> {
  const onSignal = () => output.write('\n(the command goes on until it answers or times out; Ctrl-D at the prompt leaves)\n')
  process.on('SIGINT', onSignal)
  try {
    return await task()
  } finally {
    process.off('SIGINT', onSignal)
  }
}
