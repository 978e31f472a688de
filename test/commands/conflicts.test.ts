// `dyn conflicts`: merging the nodes' pages (a property against the union of their
// listings), the cursor, the rendering, and the command as a real process against a local
// cluster of three real nodes that the test starts and stops.
import {Buffer} from 'node:buffer'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DynClient} from '../../src/client/index.js'
import {down, isAlive, stopNode, up} from '../../src/cluster/index.js'
import {CursorError, decodeCursor, encodeCursor, mergeConflictPages, type NodePage} from '../../src/commands/conflicts.js'
import type {ConflictView} from '../../src/core/protocol.js'
import {conflictsJson, conflictsText, type ConflictListing} from '../../src/render/index.js'
import {dyn, json, randomBasePort, type Run} from './helpers.js'

const keyPool = ['a', 'a\u0000', 'ab', 'b', '\u00e9', 'z'].map((key) => new Uint8Array(Buffer.from(key, 'utf8'))).concat([Uint8Array.of(0xff), Uint8Array.of(0x80, 0x01)])

function view(key: Uint8Array, node: string): ConflictView {
  return {key, partition: 0, siblings: 2, dots: [{node, counter: 1, kind: 'value'}, {node: 'x', counter: 1, kind: 'tombstone'}]}
}

/** One node answering kv.conflicts: its K smallest keys strictly after the cursor. */
function nodePage(node: string, held: readonly Uint8Array[], after: Uint8Array | undefined, limit: number): NodePage {
  const sorted = [...held].sort(Buffer.compare).filter((key) => after === undefined || Buffer.compare(key, after) > 0)
  return {node, keys: sorted.slice(0, limit).map((key) => view(key, node)), more: sorted.length > limit}
}

describe('merging the nodes pages', () => {
  it('pages through the union of every node listing: each key once, in byte order, with every node that holds it', () => {
    const holdings = fc.array(fc.subarray(keyPool.map((_, index) => index)), {minLength: 1, maxLength: 4})
    fc.assert(
      fc.property(holdings, fc.integer({min: 1, max: 4}), (held, limit) => {
        const nodes = held.map((indexes, i) => ({name: `n${i + 1}`, keys: indexes.map((index) => keyPool[index]!)}))
        const seen: Array<{key: string; nodes: string[]}> = []
        let after: Uint8Array | undefined
        for (let pages = 0; pages <= keyPool.length + 1; pages++) {
          const merged = mergeConflictPages(
            nodes.map((node) => nodePage(node.name, node.keys, after, limit)),
            limit,
          )
          expect(merged.keys.length).toBeLessThanOrEqual(limit)
          seen.push(...merged.keys.map((entry) => ({key: Buffer.from(entry.key).toString('hex'), nodes: entry.reports.map((report) => report.node)})))
          if (!merged.more) break
          after = merged.keys.at(-1)!.key
        }
        const union = [...new Set(nodes.flatMap((node) => node.keys))].sort(Buffer.compare)
        expect(seen).toEqual(
          union.map((key) => ({key: Buffer.from(key).toString('hex'), nodes: nodes.filter((node) => node.keys.includes(key)).map((node) => node.name)})),
        )
      }),
      {numRuns: 300},
    )
  })

  it('says there is more when any node had more, even if the union fits the page', () => {
    const merged = mergeConflictPages([{node: 'n1', keys: [view(keyPool[0]!, 'n1')], more: true}, {node: 'n2', keys: [], more: false}], 5)
    expect(merged.more).toBe(true)
  })
})

describe('the cursor', () => {
  it('round-trips every key and refuses what it did not print', () => {
    fc.assert(
      fc.property(fc.uint8Array({minLength: 1, maxLength: 1024}), (key) => {
        const cursor = encodeCursor(key)
        expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/)
        expect(Buffer.from(decodeCursor(cursor)).equals(Buffer.from(key))).toBe(true)
      }),
      {numRuns: 200},
    )
    for (const bad of ['', 'a!b', 'not a cursor', 'azE=', 'a', encodeCursor(new Uint8Array(1025))]) expect(() => decodeCursor(bad)).toThrow(CursorError)
    expect(new CursorError('a!b').exitCode).toBe(2)
  })
})

describe('rendering', () => {
  const listing: ConflictListing = {
    keys: [
      {
        key: new Uint8Array(Buffer.from('fruit')),
        reports: [
          {node: 'n1', partition: 3, siblings: 2, dots: [{node: 'n1', counter: 4, kind: 'value'}, {node: 'n2', counter: 9, kind: 'tombstone'}]},
          {node: 'n2', partition: 3, siblings: 2, dots: [{node: 'n1', counter: 4, kind: 'value'}, {node: 'n2', counter: 9, kind: 'tombstone'}]},
          {node: 'n3', partition: 3, siblings: 3, dots: [{node: 'n1', counter: 4, kind: 'value'}, {node: 'n2', counter: 9, kind: 'tombstone'}, {node: 'n3', counter: 1, kind: 'value'}]},
        ],
      },
      {key: Uint8Array.of(0xff, 0x0a), reports: [{node: 'n2', partition: 5, siblings: 2, dots: [{node: 'n1', counter: 1, kind: 'value'}, {node: 'n2', counter: 1, kind: 'value'}]}]},
    ],
    asked: ['n1', 'n2', 'n3', 'n4'],
    unreachable: [{node: 'n4', address: '127.0.0.1:7004', code: 'NO_NODE_REACHABLE', message: 'refused'}],
    limit: 2,
    more: true,
    next: encodeCursor(Uint8Array.of(0xff, 0x0a)),
  }

  it('shows a row per distinct report, tombstones marked, other bytes as base64, and the commands to go on', () => {
    const text = conflictsText(listing, {nextCommand: 'dyn conflicts --limit 2 --cursor _wo', resolveCommand: 'dyn resolve fruit'}, {color: false})
    expect(text).toMatch(/^2 conflicted key\(s\) on n1, n2, n3 \(more follow\)/)
    expect(text).toMatch(/│ fruit\s+│ 2\s+│ n1:4, n2:9 \(delete\)\s+│ n1, n2 │/)
    expect(text).toMatch(/│\s+│ 3\s+│ n1:4, n2:9 \(delete\), n3:1 │ n3\s+│/)
    expect(text).toContain('(base64) /wo=')
    expect(text).toMatch(/next page: dyn conflicts --limit 2 --cursor _wo\nresolve one: dyn resolve fruit$/)
    expect(conflictsText({...listing, keys: [], more: false}, {}, {color: false})).toBe('no conflicted keys on n1, n2, n3')
  })

  it('has the documented JSON shape', () => {
    const shape = conflictsJson(listing)
    expect(shape).toMatchObject({version: 1, asked: ['n1', 'n2', 'n3', 'n4'], limit: 2, more: true, next: '_wo'})
    expect(shape.unreachable).toEqual([{node: 'n4', address: '127.0.0.1:7004', code: 'NO_NODE_REACHABLE', message: 'refused'}])
    expect(shape.keys[0]).toMatchObject({key: 'fruit', partition: 3, siblings: 3})
    expect(shape.keys[0]!.nodes[0]).toEqual({node: 'n1', siblings: 2, dots: [{node: 'n1', counter: 4, kind: 'value'}, {node: 'n2', counter: 9, kind: 'tombstone'}]})
    expect(shape.keys[1]).toMatchObject({keyBase64: '/wo=', partition: 5, siblings: 2})
    const {next: _next, ...last} = listing
    expect(conflictsJson({...last, more: false}).next).toBeNull()
  })
})

// ---- real processes ----

let dir: string
/** Wire ports base..base+2; random so parallel runs do not collide. */
const basePort = randomBasePort()
const pids = new Set<number>()
const conflicted = ['k-1', 'k-2', 'k-3']

function client(node: number): DynClient {
  return new DynClient({seeds: [`127.0.0.1:${basePort + node - 1}`], cluster: 'dyn', routing: 'direct'})
}

function expectOk(run: Run): Record<string, unknown> {
  expect(run.exitCode, run.stderr + run.stdout).toBe(0)
  return json(run)
}

interface Shape {
  asked: string[]
  unreachable: Array<{node: string}>
  keys: Array<{key: string; siblings: number; nodes: Array<{node: string; siblings: number; dots: Array<{node: string; kind: string}>}>}>
  more: boolean
  next: string | null
}

describe('dyn conflicts against a local cluster', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dyn-conflicts-'))
    // The cluster is started and stopped in this process; only `dyn conflicts` runs as a command.
    for (const node of (await up({dir, basePort})).nodes) if (node.pid !== null) pids.add(node.pid)
    const [one, two] = [client(1), client(2)]
    try {
      // Blind writes through two coordinators, acknowledged by every replica: siblings on all three.
      for (const key of conflicted) await Promise.all([one.put(key, 'via n1', {w: 3}), two.put(key, 'via n2', {w: 3})])
      await one.put('calm', 'one value', {w: 3})
    } finally {
      await Promise.all([one.close(), two.close()])
    }
  })

  afterAll(async () => {
    await down({dir}).catch(() => undefined)
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
    await rm(dir, {recursive: true, force: true})
  })

  it('lists each conflicted key once with every node that holds it, from --dir or --host; --node lists one node', async () => {
    const [all, one, viaHost] = await Promise.all([
      dyn(['conflicts', '--dir', dir, '--json']),
      dyn(['conflicts', '--dir', dir, '--node', 'n1', '--json']),
      dyn(['conflicts', '--host', `127.0.0.1:${basePort + 1}`, '--json']),
    ])
    const shape = expectOk(all) as unknown as Shape
    expect(shape).toMatchObject({version: 1, asked: ['n1', 'n2', 'n3'], unreachable: [], more: false, next: null})
    // --host: the members that node knows, from its ring; the same listing.
    expect(expectOk(viaHost)).toEqual(shape)
    expect(shape.keys.map((entry) => [entry.key, entry.siblings, entry.nodes.map((report) => report.node)])).toEqual(
      conflicted.map((key) => [key, 2, ['n1', 'n2', 'n3']]),
    )
    for (const entry of shape.keys) expect(entry.nodes[0]!.dots.map((dot) => [dot.node, dot.kind])).toEqual([['n1', 'value'], ['n2', 'value']])
    const single = expectOk(one) as unknown as Shape
    expect(single.asked).toEqual(['n1'])
    expect(single.keys.map((entry) => [entry.key, entry.nodes.map((report) => report.node)])).toEqual(conflicted.map((key) => [key, ['n1']]))
  })

  it('pages one key at a time, the text output printing the exact command of the next page', async () => {
    const keys: string[] = []
    let args = ['conflicts', '--dir', dir, '--limit', '1']
    for (let page = 0; page < conflicted.length; page++) {
      const run = await dyn(args)
      expect(run.exitCode, run.stderr).toBe(0)
      expect(run.stdout).toMatch(/^1 conflicted key\(s\) on n1, n2, n3/)
      keys.push(conflicted.find((key) => run.stdout.includes(`│ ${key} `))!)
      const next = /^next page: dyn (.*)$/m.exec(run.stdout)
      if (page < conflicted.length - 1) {
        expect(next, run.stdout).not.toBeNull()
        args = next![1]!.split(' ')
      } else {
        // The last key: nothing says there is more; the next page would be empty.
        expect(next).toBeNull()
      }
      expect(run.stdout).toMatch(/resolve one: dyn resolve k-\d --dir /)
    }
    expect(keys).toEqual(conflicted)
  })

  it('refuses a limit out of range with exit 2', async () => {
    const run = await dyn(['conflicts', '--dir', dir, '--limit', '501', '--json'])
    expect(run.exitCode, run.stdout + run.stderr).toBe(2)
    expect(json(run)).toMatchObject({error: {code: 'USAGE', message: expect.stringMatching(/less than or equal to 500/)}})
  })

  it('drops a key resolved with its context; warns about a stopped node and fails only when none answers', async () => {
    const reader = client(3)
    try {
      const read = await reader.get('k-2', {r: 3})
      await reader.put('k-2', 'resolved', {context: read.context, w: 3})
    } finally {
      await reader.close()
    }
    expect(await stopNode({dir, node: 'n3'})).toMatchObject({outcome: 'stopped'})
    const [text, none] = await Promise.all([dyn(['conflicts', '--dir', dir]), dyn(['conflicts', '--dir', dir, '--node', 'n3', '--json'])])
    expect(text.exitCode, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^2 conflicted key\(s\) on n1, n2\n/)
    expect(text.stdout).toMatch(/│ k-1 .*│ n1, n2 │/)
    expect(text.stdout).toMatch(/│ k-3 .*│ n1, n2 │/)
    expect(text.stdout).not.toContain('k-2')
    expect(text.stderr).toMatch(/warning: n3 \(127\.0\.0\.1:\d+\) did not answer/)
    expect(none.exitCode).toBe(1)
    expect(json(none)).toMatchObject({error: {code: 'NO_NODE_REACHABLE'}})
  })
})
