// `dyn ring --svg FILE`, with and without --key, as a real process against a local cluster
// of three real nodes (N=2, so a key's preference list has a fallback too) that the test
// starts and stops. The picture is checked against the ring the nodes serve, read here
// through the client library, not against the command's own output alone.
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {elements, parseSvg} from '../render/svg-parse.js'
import {DynClient, type RingInfo} from '../../src/client/index.js'
import {down, isAlive, up} from '../../src/cluster/index.js'
import {preferenceList} from '../../src/core/ring.js'
import {dyn, json, randomBasePort} from './helpers.js'

let dir: string
const basePort = randomBasePort()
const pids = new Set<number>()
/** The ring as the nodes serve it. */
let served: RingInfo

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-ring-svg-'))
  for (const node of (await up({dir, basePort, nodes: 3, n: 2, r: 1, w: 1, partitions: 16})).nodes) if (node.pid !== null) pids.add(node.pid)
  const client = new DynClient({seeds: [`127.0.0.1:${basePort}`], cluster: 'dyn', routing: 'direct'})
  try {
    served = await client.ring()
  } finally {
    await client.close()
  }
})

afterAll(async () => {
  if (dir === undefined) return
  await down({dir}).catch(() => undefined)
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  await rm(dir, {recursive: true, force: true})
})

describe('dyn ring --svg against a local cluster', () => {
  it('writes the served ring: one arc per partition in its owner’s colour, a legend entry per node, no key marks', async () => {
    const file = join(dir, 'ring.svg')
    const run = await dyn(['ring', '--dir', dir, '--svg', file])
    expect(run.exitCode, run.stderr + run.stdout).toBe(0)
    expect(run.stderr).toContain(`wrote ${file}`)
    expect(existsSync(file)).toBe(true)
    const root = parseSvg(await readFile(file, 'utf8'))
    const arcs = elements(root, 'path', 'partition')
    expect(arcs.map((arc) => [Number(arc.getAttribute('data-partition')), arc.getAttribute('data-owner')])).toEqual(served.ring.owners.map((owner, partition) => [partition, owner]))
    const fillOf = new Map(arcs.map((arc) => [arc.getAttribute('data-owner'), arc.getAttribute('fill')]))
    expect(new Set(fillOf.values()).size, 'one colour per owner').toBe(new Set(served.ring.owners).size)
    const legend = elements(root, 'g', 'legend')
    expect(legend.map((entry) => entry.getAttribute('data-node'))).toEqual(served.ring.nodes.map((node) => node.name))
    for (const entry of legend) expect(entry.getElementsByTagName('rect')[0]?.getAttribute('fill')).toBe(fillOf.get(entry.getAttribute('data-node')))
    expect(elements(root, 'g', 'replica')).toHaveLength(0)
    expect(elements(root, 'g', 'key-marker')).toHaveLength(0)
  })

  it('with --key, marks the key and its preference list, primaries then fallbacks, as the command reports it', async () => {
    // A key XML would misread: the file must still parse.
    const key = `cart<&>"42"`
    const file = join(dir, 'ring-key.svg')
    const run = await dyn(['ring', '--dir', dir, '--key', key, '--svg', file, '--json'])
    expect(run.exitCode, run.stderr + run.stdout).toBe(0)
    const reported = json(run) as {key: string; partition: number; preferenceList: string[]; fallbacks: string[]}
    const expected = preferenceList(served.ring, {key: new TextEncoder().encode(key)}, {n: served.n})
    expect(reported).toMatchObject({key, partition: expected.partition, preferenceList: expected.primaries, fallbacks: expected.fallbacks})
    expect(expected.primaries).toHaveLength(2)
    expect(expected.fallbacks).toHaveLength(1)

    const root = parseSvg(await readFile(file, 'utf8'))
    expect(elements(root, 'path', 'partition')).toHaveLength(served.ring.partitionCount)
    const marks = elements(root, 'g', 'replica')
    const listed = [...expected.primaries, ...expected.fallbacks]
    expect(marks.map((mark) => mark.getAttribute('data-node'))).toEqual(listed)
    expect(marks.map((mark) => mark.getAttribute('class'))).toEqual(listed.map((_, index) => (index < expected.primaries.length ? 'replica primary' : 'replica fallback')))
    // Each mark stands on a partition its node owns, the coordinator's on the key's own.
    for (const mark of marks) expect(served.ring.owners[Number(mark.getAttribute('data-partition'))]).toBe(mark.getAttribute('data-node'))
    expect(marks[0]?.getAttribute('data-partition')).toBe(String(expected.partition))
    const markers = elements(root, 'g', 'key-marker')
    expect(markers).toHaveLength(1)
    expect(markers[0]?.getElementsByTagName('title')[0]?.textContent).toContain(`key ${key}:`)
  })
})
