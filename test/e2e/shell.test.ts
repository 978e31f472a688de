// `dyn shell` and `dyn resolve` against a real local cluster: scripts through piped stdin
// and -f, the same output as the commands, contexts remembered and used, the warning before
// a contextless put, stopping at the first failure; and one session in a real terminal
// (tmux, installed from Debian when missing) with Tab, Ctrl-C, an interactive resolve and
// Ctrl-D.
import {execFileSync} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {isAlive, readClusterFile} from '../../src/cluster/index.js'
import {dyn, json, root, randomBasePort, type Run} from '../commands/helpers.js'
import {ensureProgram} from './debian.js'

let dir: string
const basePort = randomBasePort()

/** Runs `dyn shell` with `script` on standard input. */
function shell(script: string, args: readonly string[] = []): Promise<Run> {
  return dyn(['shell', '--dir', dir, ...args], {input: script, timeoutMs: 60_000})
}

/** The output of each echoed line of a script run: `dyn> LINE` starts a section. */
function sections(stdout: string): {line: string; output: string}[] {
  const found: {line: string; output: string[]}[] = []
  for (const line of stdout.split('\n')) {
    const echo = /^dyn[^>]*> (.*)$/u.exec(line)
    if (echo !== null) found.push({line: echo[1]!, output: []})
    else found.at(-1)?.output.push(line)
  }
  return found.map((section) => ({line: section.line, output: section.output.join('\n')}))
}

function outputOf(run: Run, line: string, occurrence = 0): string {
  const matching = sections(run.stdout).filter((section) => section.line === line)
  const section = matching[occurrence]
  if (section === undefined) throw new Error(`no output for "${line}" in:\n${run.stdout}\n${run.stderr}`)
  return section.output
}

function values(shape: unknown): string[] {
  return (shape as {siblings: {value: string}[]}).siblings.map((sibling) => sibling.value)
}

/** A get's JSON without what differs from one read to the next (who answered, how fast). */
function stable(shape: Record<string, unknown>): Record<string, unknown> {
  const {quorum, ...rest} = shape as {quorum: {n: number; r: number; ok: boolean}}
  return {...rest, quorum: {n: quorum.n, r: quorum.r, ok: quorum.ok}}
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-shell-'))
  const up = await dyn(['cluster', 'up', '--dir', dir, '--base-port', String(basePort), '--json'], {timeoutMs: 60_000})
  expect(up.exitCode, up.stderr + up.stdout).toBe(0)
}, 90_000)

afterAll(async () => {
  const file = await readClusterFile(dir).catch(() => undefined)
  await dyn(['cluster', 'down', '--dir', dir]).catch(() => undefined)
  for (const node of file?.nodes ?? []) if (node.pid !== null && isAlive(node.pid)) process.kill(node.pid, 'SIGKILL')
  await rm(dir, {recursive: true, force: true})
})

describe('dyn shell with a script', () => {
  it('echoes each line, remembers the context of a read and writes with it', async () => {
    const run = await shell(['put cart apple --blind', 'put cart pear --blind --node n2', 'get cart --json', 'put cart apple,pear', 'get cart --json', 'contexts cart'].join('\n'))
    expect(run.exitCode, run.stderr).toBe(0)
    expect(sections(run.stdout).map((section) => section.line)).toEqual([
      'put cart apple --blind',
      'put cart pear --blind --node n2',
      'get cart --json',
      'put cart apple,pear',
      'get cart --json',
      'contexts cart',
    ])
    expect(values(JSON.parse(outputOf(run, 'get cart --json'))).sort()).toEqual(['apple', 'pear'])
    expect(outputOf(run, 'put cart apple,pear')).toMatch(/^using the context of cart remembered from line 3 \(get\): n\d:\d+, n\d:\d+\n/u)
    expect(outputOf(run, 'put cart apple,pear')).toMatch(/remembered context of cart: n\d:\d+, n\d:\d+ {2}token [A-Za-z0-9_-]+/u)
    const last = JSON.parse(outputOf(run, 'get cart --json', 1)) as Record<string, unknown>
    expect(values(last)).toEqual(['apple,pear'])
    expect(outputOf(run, 'contexts cart')).toContain(`token ${String(last.context)}`)
  }, 60_000)

  it('prints what the commands print', async () => {
    const [fromShell, ring, get] = await Promise.all([
      shell('ring\nget cart --json'),
      dyn(['ring', '--dir', dir]),
      dyn(['get', 'cart', '--dir', dir, '--json']),
    ])
    expect(fromShell.exitCode, fromShell.stderr).toBe(0)
    expect(outputOf(fromShell, 'ring')).toBe(ring.stdout)
    expect(stable(JSON.parse(outputOf(fromShell, 'get cart --json')) as Record<string, unknown>)).toEqual(stable(json(get)))
  }, 60_000)

  it('warns that a put without a context on an existing key makes a sibling', async () => {
    const run = await shell('put cart plum')
    expect(run.exitCode).toBe(0)
    expect(run.stderr).toMatch(/warning: cart already has a value and this put carries no context, so it will be stored next to it as a sibling/)
    const blind = await shell('put cart fig --blind')
    expect(blind.stderr).not.toMatch(/warning/)
    // Tidy up for the tests that follow: one value again.
    const resolved = await dyn(['resolve', 'cart', '--value', 'apple,pear', '--dir', dir, '--json'])
    expect(json(resolved)).toMatchObject({resolved: true})
  }, 60_000)

  it('stops at the first failing line with its exit code, or goes on with --continue', async () => {
    const stopped = await shell('get no-such-key\nput written-after-failure yes')
    expect(stopped.exitCode).toBe(4)
    expect(stopped.stderr).toMatch(/stopped at line 1 of standard input \(exit 4\)/)
    expect((await dyn(['get', 'written-after-failure', '--dir', dir])).exitCode).toBe(4)
    const going = await shell('get no-such-key\nput written-after-failure yes\nbogus', ['--continue'])
    expect(going.exitCode).toBe(4)
    expect(going.stderr).toMatch(/2 lines of standard input failed: line 1 \(exit 4\), line 3 \(exit 2\)/)
    expect((await dyn(['get', 'written-after-failure', '--dir', dir])).exitCode).toBe(0)
  }, 60_000)

  it('runs a file with -f; a missing file is a usage error', async () => {
    const file = join(dir, 'script.dyn')
    await writeFile(file, '# a smoke test\nset w 3\nput from-file hello\nget from-file --json\nmerkle diff n1 n2 --json\n')
    const run = await dyn(['shell', '--dir', dir, '-f', file])
    expect(run.exitCode, run.stderr).toBe(0)
    expect(values(JSON.parse(outputOf(run, 'get from-file --json')))).toEqual(['hello'])
    expect(outputOf(run, 'put from-file hello')).toMatch(/quorum: met \(coordinator n\d, N=3 W=3\)/)
    expect(JSON.parse(outputOf(run, 'merkle diff n1 n2 --json'))).toMatchObject({version: 1})
    const missing = await dyn(['shell', '--dir', dir, '-f', join(dir, 'nope.dyn')])
    expect(missing.exitCode).toBe(2)
    expect(missing.stderr).toMatch(/cannot read the script .*nope\.dyn: no such file/)
  }, 60_000)
})

describe('dyn resolve without a terminal', () => {
  it('exits 2 without --pick, --value or --file; --pick writes over every sibling', async () => {
    await dyn(['put', 'basket', 'red', '--dir', dir])
    await dyn(['put', 'basket', 'blue', '--node', 'n2', '--dir', dir])
    const asked = await dyn(['resolve', 'basket', '--dir', dir])
    expect(asked.exitCode).toBe(2)
    expect(asked.stderr).toMatch(/only on a terminal[\s\S]*--pick N/)
    const picked = await dyn(['resolve', 'basket', '--pick', '2', '--dir', dir, '--json'])
    expect(picked.exitCode, picked.stderr).toBe(0)
    const shape = json(picked) as {before: {siblings: {value: string}[]}; after: {siblings: {value: string}[]}; write: {siblings: number}}
    expect(shape.before.siblings).toHaveLength(2)
    expect(shape.after.siblings.map((sibling) => sibling.value)).toEqual([shape.before.siblings[1]!.value])
    expect(shape.write.siblings).toBe(1)
    const again = await dyn(['resolve', 'basket', '--dir', dir, '--json'])
    expect(again.exitCode).toBe(0)
    expect(json(again)).toMatchObject({resolved: false})
    expect((await dyn(['resolve', 'no-such-key', '--pick', '1', '--dir', dir])).exitCode).toBe(4)
  }, 60_000)
})

// ---- a real terminal ----

const tmuxSocket = `dyn-test-${process.pid}`

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', tmuxSocket, ...args], {encoding: 'utf8'})
}


/** Waits until the pane shows `pattern`; fails with the pane's text otherwise. */
async function waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let screen = ''
  while (Date.now() < deadline) {
    // Without the blank rows below the cursor, so `$` means "what the cursor follows".
    screen = tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 'dyn').replace(/\s+$/u, '')
    if (pattern.test(screen)) return screen
    await sleep(100)
  }
  throw new Error(`the terminal never showed ${pattern}:\n${screen}`)
}

describe('dyn shell in a terminal', () => {
  it('completes, cancels a line with Ctrl-C, resolves interactively, keeps history, leaves with Ctrl-D', async () => {
    await ensureProgram('tmux', '-V', 'tmux')
    const history = join(dir, 'history')
    await dyn(['put', 'tmux-key', 'first', '--dir', dir])
    await dyn(['put', 'tmux-key', 'second', '--node', 'n2', '--dir', dir])
    const command = `${process.execPath} --import tsx ${join(root, 'bin', 'dev.js')} shell --dir ${dir}; echo SHELL-EXIT=$?; sleep 60`
    tmux('new-session', '-d', '-s', 'dyn', '-x', '160', '-y', '60', '-c', root, `env DYN_SHELL_HISTORY=${history} TERM=xterm sh -c '${command}'`)
    try {
      await waitFor(/^dyn>$/mu)
      tmux('send-keys', '-t', 'dyn', 'get tmux-key', 'Enter')
      await waitFor(/remembered context of tmux-key/u)
      // Tab completes the key just used.
      tmux('send-keys', '-t', 'dyn', 'resolve tmux-', 'Tab')
      await waitFor(/dyn> resolve tmux-key$/mu)
      tmux('send-keys', '-t', 'dyn', 'Enter')
      await waitFor(/tmux-key has 2 siblings\. Which value replaces them all\?/u)
      tmux('send-keys', '-t', 'dyn', 'Down', 'Enter')
      const resolved = await waitFor(/now: tmux-key has 1 value/u)
      expect(resolved).toMatch(/writing sibling #2/u)
      expect(resolved).toMatch(/quorum: met/u)
      await waitFor(/remembered context of tmux-key[^\n]*\n[^\n]*dyn>$/u)
      // Ctrl-C drops the typed line: it is never run.
      tmux('send-keys', '-t', 'dyn', 'put tmux-key never-written')
      tmux('send-keys', '-t', 'dyn', 'C-c')
      tmux('send-keys', '-t', 'dyn', 'put tmux-key third', 'Enter')
      await waitFor(/using the context of tmux-key remembered from line 2 \(resolve\)/u)
      await waitFor(/remembered context of tmux-key[\s\S]*remembered context of tmux-key[\s\S]*remembered context of tmux-key[^\n]*\n[^\n]*dyn>$/u)
      tmux('send-keys', '-t', 'dyn', 'C-d')
      await waitFor(/SHELL-EXIT=0/u)
    } finally {
      tmux('kill-server')
    }
    const got = await dyn(['get', 'tmux-key', '--dir', dir, '--json'])
    expect(values(json(got))).toEqual(['third'])
    expect((await readFile(history, 'utf8')).split('\n').filter(Boolean)).toEqual(['get tmux-key', 'resolve tmux-key', 'put tmux-key third'])
  }, 90_000)
})
