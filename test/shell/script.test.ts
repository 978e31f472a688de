import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {HistoryFile, historyLinesMax, historyPath, runScript, Session} from '../../src/shell/index.js'

async function* linesOf(text: string): AsyncIterable<string> {
  yield* text.split('\n')
}

/** A session whose `get` exits with the number after `exit=` in the key, else 0. */
function fakeSession() {
  const ran: string[] = []
  const session = new Session(
    {dir: '/tmp/c'},
    {
      runner: {
        run: async (command, argv) => {
          ran.push(`${command} ${argv[0]}`)
          const code = /exit=(\d)/u.exec(argv[0] ?? '')
          return {exitCode: code === null ? 0 : Number(code[1]), result: undefined}
        },
        flagsOf: () => [],
      },
      probe: async () => undefined,
      nodes: async () => [],
      readableContext: async () => '',
      out: () => undefined,
      err: () => undefined,
    },
  )
  return {session, ran}
}

describe('scripts', () => {
  it('echoes each line after the prompt and stops at the first failure with its exit code', async () => {
    const {session, ran} = fakeSession()
    const out: string[] = []
    const err: string[] = []
    const code = await runScript(session, linesOf('get a\n\n# note\nset r 1\nget exit=4\nget b'), {keepGoing: false, out: (t) => out.push(t), err: (t) => err.push(t), source: 's.dyn'})
    expect(code).toBe(4)
    expect(out).toEqual(['dyn> get a', 'dyn> # note', 'dyn> set r 1', 'dyn r=1> get exit=4'])
    expect(ran).toEqual(['get a', 'get exit=4'])
    expect(err).toEqual(['stopped at line 5 of s.dyn (exit 4); --continue runs every line'])
  })

  it('with --continue runs every line and exits with the first failure', async () => {
    const {session, ran} = fakeSession()
    const err: string[] = []
    const code = await runScript(session, linesOf('get exit=3\nget ok\nbogus\nget exit=4'), {keepGoing: true, out: () => undefined, err: (t) => err.push(t), source: 'standard input'})
    expect(code).toBe(3)
    expect(ran).toEqual(['get exit=3', 'get ok', 'get exit=4'])
    expect(err).toEqual(['3 lines of standard input failed: line 1 (exit 3), line 3 (exit 2), line 4 (exit 4)'])
  })

  it('stops at exit with 0', async () => {
    const {session, ran} = fakeSession()
    expect(await runScript(session, linesOf('get a\nexit\nget exit=4'), {keepGoing: false, out: () => undefined, err: () => undefined, source: 'x'})).toBe(0)
    expect(ran).toEqual(['get a'])
  })
})

describe('the history file', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dyn-history-'))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('keeps lines across sessions, not blank ones or ones typed with a leading blank', async () => {
    const path = join(dir, 'sub', 'history')
    const first = new HistoryFile(path, () => undefined)
    expect(await first.load()).toEqual([])
    for (const line of ['get a', '', ' put secret x', 'put a b']) await first.append(line)
    expect(await new HistoryFile(path, () => undefined).load()).toEqual(['get a', 'put a b'])
  })

  it('trims the file to the newest lines', async () => {
    const path = join(dir, 'history')
    await writeFile(path, Array.from({length: historyLinesMax + 50}, (_, index) => `get k${index}`).join('\n') + '\n')
    const lines = await new HistoryFile(path, () => undefined).load()
    expect(lines).toHaveLength(historyLinesMax)
    expect(lines[0]).toBe('get k50')
    expect((await readFile(path, 'utf8')).split('\n').filter(Boolean)).toHaveLength(historyLinesMax)
  })

  it('warns once and goes on when the file cannot be written', async () => {
    // A path below a regular file cannot be created, whoever runs the test.
    await writeFile(join(dir, 'file'), '')
    const path = join(dir, 'file', 'history')
    const warnings: string[] = []
    const history = new HistoryFile(path, (text) => warnings.push(text))
    await history.append('get a')
    await history.append('get b')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/history is not kept/)
  })

  it('lives where DYN_SHELL_HISTORY or XDG_STATE_HOME say', () => {
    expect(historyPath({DYN_SHELL_HISTORY: '/x/h'})).toBe('/x/h')
    expect(historyPath({XDG_STATE_HOME: '/state'})).toBe('/state/dyn/shell_history')
  })
})
