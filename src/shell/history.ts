// The shell's history file, kept across sessions: one line per entry, appended as lines are
// entered, bounded. A line typed with a leading blank is not kept (as bash's ignorespace),
// so a line with a secret can be kept out of the file.
import {appendFile, mkdir, readFile, writeFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'

/** Lines kept; older ones are dropped when the file is read. */
export const historyLinesMax = 1000

/** Longest line kept: a pasted value of megabytes does not belong in the history file. */
export const historyLineCharsMax = 4096

/** Where history goes: --history, else $DYN_SHELL_HISTORY, else the XDG state directory. */
export function historyPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DYN_SHELL_HISTORY !== undefined && env.DYN_SHELL_HISTORY !== '') return env.DYN_SHELL_HISTORY
  const state = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state')
  return join(state, 'dyn', 'shell_history')
}

export function keepsLine(line: string): boolean {
  return line.trim() !== '' && !line.startsWith(' ') && line.length <= historyLineCharsMax
}

export class HistoryFile {
  readonly path: string
  /** Set once writing failed: the shell goes on without saving, after saying so once. */
  private failed = false
  private readonly warn: (text: string) => void

  constructor(path: string, warn: (text: string) => void) {
    this.path = path
    this.warn = warn
  }

  /** The kept lines, oldest first; the file is trimmed to historyLinesMax when longer. */
  async load(): Promise<string[]> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.fail(error)
      return []
    }
    const lines = text.split('\n').filter(keepsLine)
    if (lines.length <= historyLinesMax) return lines
    const kept = lines.slice(-historyLinesMax)
    await this.guard(() => writeFile(this.path, kept.join('\n') + '\n'))
    return kept
  }

  async append(line: string): Promise<void> {
    if (this.failed || !keepsLine(line)) return
    await this.guard(async () => {
      await mkdir(dirname(this.path), {recursive: true})
      await appendFile(this.path, line + '\n')
    })
  }

  private async guard(task: () => Promise<void>): Promise<void> {
    try {
      await task()
    } catch (error) {
      this.fail(error)
    }
  }

  private fail(error: unknown): void {
    if (this.failed) return
    this.failed = true
    this.warn(`warning: history is not kept: ${error instanceof Error ? error.message : String(error)} (set DYN_SHELL_HISTORY or --history to another file)`)
  }
}
