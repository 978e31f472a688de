// Running a fixture script in a real child process and reading its stdout line by line.
import {spawn, type ChildProcess} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const projectRoot = join(here, '..', '..')

export interface Child {
  process: ChildProcess
  /** Complete lines printed so far. */
  lines: string[]
  /** Resolves when `predicate` holds for the lines; rejects if the child exits first or after `timeoutMs`. */
  until(predicate: (lines: string[]) => boolean, timeoutMs: number): Promise<void>
  exited: Promise<number | null>
}

export function runFixture(name: string, args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', name), ...args], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let partial = ''
  let stderr = ''
  const waiters = new Set<() => void>()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
    for (const waiter of waiters) waiter()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const until = (predicate: (lines: string[]) => boolean, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(lines)) return
        done()
        resolve()
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`fixture ${name} did not get there in ${timeoutMs} ms; stderr: ${stderr}`))
      }, timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      void exited.then(() => {
        if (!waiters.has(check)) return
        done()
        reject(new Error(`fixture ${name} exited early; stderr: ${stderr}`))
      })
      check()
    })
  return {process: child, lines, until, exited}
}
