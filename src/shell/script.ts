// The shell without a terminal: `dyn shell -f FILE` or lines piped to standard input. Each
// line is echoed after the prompt, so the output reads like the session a person would have
// typed, and the run stops at the first line that fails, exiting with that line's exit code
// (DESIGN §8), unless told to go on.
import {exitCodes} from '../core/errors.js'
import {ExitRequest, type Session} from './session.js'
import {isBlankOrComment} from './words.js'

export interface ScriptOptions {
  /** Run every line even after one fails; exit with the first failure's code. */
  readonly keepGoing: boolean
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  /** Names the script in messages: a file path or "standard input". */
  readonly source: string
}

interface Failure {
  readonly line: number
  readonly exitCode: number
}

export async function runScript(session: Session, lines: AsyncIterable<string>, options: ScriptOptions): Promise<number> {
  const failures: Failure[] = []
  let number = 0
  for await (const line of lines) {
    number++
    if (line.trim() === '') continue
    options.out(`${session.prompt()}${line}`)
    if (isBlankOrComment(line)) continue
    let exitCode: number
    try {
      exitCode = await session.execute(line)
    } catch (error) {
      if (error instanceof ExitRequest) return finish(failures, options)
      throw error
    }
    if (exitCode === exitCodes.ok) continue
    failures.push({line: number, exitCode})
    if (!options.keepGoing) {
      options.err(`stopped at line ${number} of ${options.source} (exit ${exitCode}); --continue runs every line`)
      return exitCode
    }
  }
  return finish(failures, options)
}

function finish(failures: readonly Failure[], options: ScriptOptions): number {
  const [first] = failures
  if (first === undefined) return exitCodes.ok
  options.err(`${failures.length} line${failures.length === 1 ? '' : 's'} of ${options.source} failed: ${failures.map((failure) => `line ${failure.line} (exit ${failure.exitCode})`).join(', ')}`)
  return first.exitCode
}
