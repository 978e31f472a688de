// The session against a fake runner: which command runs with which flags, which context
// is used and remembered, and the shell's own verbs. The real commands run in
// test/commands/shell.test.ts.
import {describe, expect, it} from 'vitest'
import {ExitRequest, Session, type CommandRun, type KeyState, type SessionTarget} from '../../src/shell/index.js'

const kvFlags = ['r', 'w', 'context', 'file', 'show-clock', 'node', 'host', 'dir', 'cluster', 'json']

interface Call {
  command: string
  argv: string[]
}

function harness(options: {target?: SessionTarget; answer?: (call: Call) => CommandRun; probe?: KeyState} = {}) {
  const calls: Call[] = []
  const out: string[] = []
  const err: string[] = []
  const probes: string[] = []
  const session = new Session(options.target ?? {dir: '/tmp/c'}, {
    runner: {
      run: async (command, argv) => {
        const call = {command, argv: [...argv]}
        calls.push(call)
        return options.answer?.(call) ?? {exitCode: 0, result: undefined}
      },
      flagsOf: (command) => (command === 'cluster:status' ? ['host', 'cluster', 'dir', 'json'] : command === 'merkle:diff' ? ['dir', 'cluster', 'partition', 'json'] : kvFlags),
    },
    probe: async (key) => {
      probes.push(key)
      return options.probe
    },
    nodes: async () => [
      {name: 'n1', address: '127.0.0.1:7001'},
      {name: 'n2', address: '127.0.0.1:7002'},
    ],
    readableContext: async (token) => {
      if (token === 'bad') throw new Error('not a context')
      return `vv(${token})`
    },
    out: (text) => out.push(text),
    err: (text) => err.push(text),
  })
  return {session, calls, out, err, probes}
}

/** A get, put or delete answer carrying a context, as the commands return them. */
function answering(context: string, siblings?: number) {
  return (call: Call): CommandRun => ({exitCode: 0, result: {key: call.argv[0], context, ...(siblings === undefined ? {} : {siblings})}})
}

describe('the shell session', () => {
  it('runs the command with the target, use and set flags the command accepts', async () => {
    const {session, calls} = harness()
    expect(await session.execute('get cart')).toBe(0)
    expect(calls[0]).toEqual({command: 'get', argv: ['cart', '--dir', '/tmp/c']})
    await session.execute('use n2')
    await session.execute('set r 1')
    await session.execute('set w 3')
    expect(session.prompt()).toBe('dyn n2 r=1 w=3> ')
    await session.execute('get cart')
    expect(calls[1]!.argv).toEqual(['cart', '--dir', '/tmp/c', '--node', 'n2', '--r', '1', '--w', '3'])
    await session.execute('status')
    expect(calls[2]).toEqual({command: 'cluster:status', argv: ['--dir', '/tmp/c']})
  })

  it('runs merkle diff without the subcommand word, and lists conflicts of the whole cluster whatever `use` says', async () => {
    const {session, calls} = harness()
    await session.execute('use n2')
    await session.execute('merkle diff n1 n3')
    expect(calls[0]).toEqual({command: 'merkle:diff', argv: ['n1', 'n3', '--dir', '/tmp/c']})
    expect(await session.execute('merkle n1 n3')).toBe(2)
    await session.execute('conflicts')
    expect(calls[1]).toEqual({command: 'conflicts', argv: ['--dir', '/tmp/c']})
    await session.execute('conflicts --node n1')
    expect(calls[2]!.argv).toEqual(['--node', 'n1', '--dir', '/tmp/c'])
  })

  it('lets a line override the session: its own --node, --host or --r win', async () => {
    const {session, calls} = harness()
    await session.execute('use n2')
    await session.execute('set r 1')
    await session.execute('get cart --host 127.0.0.1:9 --r 3')
    expect(calls[0]!.argv).toEqual(['cart', '--host', '127.0.0.1:9', '--r', '3', '--dir', '/tmp/c'])
  })

  it('with --host, reaches a node named by `use` by its address', async () => {
    const {session, calls} = harness({target: {dir: '/tmp/c', host: '127.0.0.1:7001', cluster: 'prod'}})
    await session.execute('get k')
    expect(calls[0]!.argv).toEqual(['k', '--dir', '/tmp/c', '--cluster', 'prod', '--host', '127.0.0.1:7001'])
    await session.execute('use n2')
    await session.execute('get k')
    expect(calls[1]!.argv).toContain('127.0.0.1:7002')
    await session.execute('status')
    expect(calls[2]).toEqual({command: 'cluster:status', argv: ['--dir', '/tmp/c', '--cluster', 'prod', '--host', '127.0.0.1:7002']})
  })

  it('remembers the context of a read and writes with it; --blind and --context do not', async () => {
    const {session, calls, out} = harness({answer: answering('T1', 1)})
    await session.execute('get cart')
    expect(out.at(-1)).toBe('remembered context of cart: vv(T1)  token T1')
    await session.execute('put cart pear')
    expect(calls[1]!.argv).toEqual(['cart', 'pear', '--dir', '/tmp/c', '--context', 'T1'])
    expect(out).toContain('using the context of cart remembered from line 1 (get): vv(T1)')
    await session.execute('put cart plum --blind')
    expect(calls[2]!.argv).toEqual(['cart', 'plum', '--dir', '/tmp/c'])
    await session.execute('put cart fig --context OTHER')
    expect(calls[3]!.argv).toEqual(['cart', 'fig', '--context', 'OTHER', '--dir', '/tmp/c'])
    await session.execute('delete cart')
    expect(calls[4]!.argv).toEqual(['cart', '--dir', '/tmp/c', '--context', 'T1'])
  })

  it("does not remember a write's context that covers siblings the session has not seen", async () => {
    const {session, calls, out} = harness({answer: answering('T2', 3)})
    session.memory.remember({key: 'cart', token: 'OLD', clock: 'x', from: 'get', line: 1})
    await session.execute('put cart pear')
    expect(session.memory.context('cart')).toBeUndefined()
    expect(out.at(-1)).toMatch(/not remembering the context of cart: it now has 3 siblings/)
    await session.execute('put cart fig')
    expect(calls[1]!.argv).not.toContain('--context')
  })

  it('warns before a put without context to a key that exists, and not with --blind', async () => {
    const {session, err, probes} = harness({probe: {found: true, values: 2}})
    await session.execute('put cart pear')
    expect(err.join('\n')).toMatch(/cart already has 2 values and this put carries no context.*sibling/)
    await session.execute('put cart pear --blind')
    expect(probes).toEqual(['cart'])
    const quiet = harness({probe: {found: false, values: 0}})
    await quiet.session.execute('put fresh pear')
    expect(quiet.err).toEqual([])
  })

  it('reports errors and goes on: unknown verbs, bad settings, stdin values, open quotes', async () => {
    const {session, err, calls} = harness()
    expect(await session.execute('fetch cart')).toBe(2)
    expect(err.at(-2)).toMatch(/unknown verb "fetch"/)
    expect(await session.execute('set r 0')).toBe(2)
    expect(await session.execute('set q 1')).toBe(2)
    expect(await session.execute('use n9')).toBe(2)
    expect(err.at(-1)).toMatch(/n1, n2/)
    expect(await session.execute('put k -')).toBe(2)
    expect(await session.execute("put k 'open")).toBe(2)
    expect(calls).toEqual([])
    expect(await session.execute('# a comment')).toBe(0)
    expect(await session.execute('')).toBe(0)
  })

  it('passes on the exit code of the command', async () => {
    const {session} = harness({answer: () => ({exitCode: 4, result: {key: 'k', context: 'T', found: false}})})
    expect(await session.execute('get k')).toBe(4)
  })

  it('shows and forgets remembered contexts, and notes an unreadable one', async () => {
    const {session, out} = harness({answer: answering('bad')})
    await session.execute('get k')
    expect(out.at(-1)).toMatch(/remembered context of k: \(unreadable: not a context\)/)
    await session.execute('contexts')
    expect(out.at(-1)).toMatch(/^k: \(unreadable.*\(line 1, get\) {2}token bad$/)
    await session.execute('forget k')
    expect(session.memory.context('k')).toBeUndefined()
    await session.execute('contexts k')
    expect(out.at(-1)).toMatch(/no context remembered for k/)
  })

  it('set alone shows the settings; set r default drops one', async () => {
    const {session, out, calls} = harness()
    await session.execute('set r 2')
    await session.execute('set')
    expect(out.at(-1)).toMatch(/^r: 2\nw: the cluster default/)
    await session.execute('set r default')
    await session.execute('get k')
    expect(calls[0]!.argv).not.toContain('--r')
  })

  it('ends on exit and quit', async () => {
    const {session} = harness()
    await expect(session.execute('exit')).rejects.toBeInstanceOf(ExitRequest)
    await expect(session.execute('quit')).rejects.toBeInstanceOf(ExitRequest)
  })

  it('help lists every verb; help VERB shows its usage', async () => {
    const {session, out} = harness()
    await session.execute('help')
    for (const verb of ['get', 'put', 'delete', 'resolve', 'ring', 'status', 'use', 'set', 'contexts']) expect(out.at(-1)).toContain(`  ${verb}`)
    await session.execute('help put')
    expect(out.at(-1)).toMatch(/^put KEY VALUE/)
  })
})
