// Gossip membership on the in-memory cluster: the view codec, convergence of staged
// changes, a node joining through seeds, commits through the claimant (also concurrent
// ones), the persisted view at restart and a partition-count mismatch refused.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {commitPlan, createView, markLeft, pendingChanges, planChanges, stageJoin, stageLeave, type View} from '../../src/core/membership.js'
import type {AdminStageRequest} from '../../src/core/protocol.js'
import {gossipIntervalMs, placeholderRing, viewDocument, viewFromJson, viewsEqual, viewToJson, ViewFormatError, ViewMismatchError} from '../../src/node/gossip.js'
import type {Node} from '../../src/node/node.js'
import {MembershipCluster} from './membership-harness.js'

async function admin(node: Node, type: 'admin.status' | 'admin.plan' | 'admin.commit', request: Record<string, never> = {}): Promise<Record<string, unknown>> {
  const response = await node.handle(type, request)
  if (!response.ok) throw new Error(`${type}: ${response.error.code} ${response.error.message}`)
  return JSON.parse(response.json) as Record<string, unknown>
}

async function stage(node: Node, request: AdminStageRequest): Promise<void> {
  const response = await node.handle('admin.stage', request)
  if (!response.ok) throw new Error(`admin.stage: ${response.error.code} ${response.error.message}`)
}

function converged(cluster: MembershipCluster, names: readonly string[]): boolean {
  const first = cluster.node(names[0]!).view.view
  return names.every((name) => viewsEqual(cluster.node(name).view.view, first))
}

describe('the view as JSON', () => {
  const base = createView({partitionCount: 16, replicas: 3, members: ['a', 'b', 'c', 'd'].map((name) => ({name, address: `${name}:1`}))})
  const placeholder = placeholderRing({partitionCount: 16, replicas: 3, self: 'x'})
  const parse = (text: string): View => viewFromJson(text, 'x')

  it('round-trips any sequence of staged joins and leaves', () => {
    const step = fc.oneof(fc.constantFrom('a', 'b', 'c', 'd').map((name) => ({leave: name})), fc.constantFrom('e', 'f').map((name) => ({join: name})))
    fc.assert(
      fc.property(fc.array(step, {maxLength: 6}), (steps) => {
        let view: View = base
        for (const each of steps) {
          try {
            view = 'leave' in each ? stageLeave(view, each.leave) : stageJoin(view, {name: each.join, address: `${each.join}:1`, weight: 2})
          } catch {
            // Staging twice is refused; the view stays as it was.
          }
        }
        expect(parse(viewToJson(view))).toEqual(view)
      }),
      {numRuns: 50},
    )
  })

  it('sends only the shape of the ring of a node that knows none, and reads it back as a placeholder', () => {
    const text = viewToJson({...base, ring: placeholder})
    expect(JSON.parse(text).ring).toEqual({version: 0, partitionCount: 16, replicas: 3})
    expect(parse(text).ring).toEqual(placeholder)
  })

  it('reads a view written before rings carried their leaving list: leaving records make the list', () => {
    const committed = commitPlan(stageLeave(base, 'd'), planChanges(stageLeave(base, 'd')))
    expect(committed.members.find((member) => member.name === 'd')?.status).toBe('leaving')
    const legacy = JSON.parse(viewToJson(committed)) as {leaving?: unknown; members: {name: string; status: string; incarnation: number}[]}
    delete legacy.leaving
    // The older format wrote commits into the records: d leaving, incarnation bumped.
    legacy.members = legacy.members.map((member) => (member.name === 'd' ? {...member, status: 'leaving', incarnation: 2} : member))
    const view = parse(JSON.stringify(legacy))
    expect(view.leaving).toEqual([{name: 'd', incarnation: 2}])
    expect(view.members.map((member) => [member.name, member.status])).toEqual([['a', 'valid'], ['b', 'valid'], ['c', 'valid'], ['d', 'leaving']])
    expect(markLeft(view, 'd').members.find((member) => member.name === 'd')?.status).toBe('left')
  })

  it('refuses malformed views with a named error', () => {
    for (const text of ['nope', '{"version":1}', JSON.stringify({version: 1, members: [{name: 'a'}], ring: {version: 0, partitionCount: 16, replicas: 3}, staged: []}), JSON.stringify({version: 2, members: [], ring: null, staged: []})]) {
      expect(() => parse(text)).toThrow(ViewFormatError)
    }
  })
})

describe('gossip', () => {
  it('spreads a staged change to every node within a few rounds', async () => {
    const names = ['n1', 'n2', 'n3', 'n4', 'n5']
    const cluster = new MembershipCluster({names})
    await cluster.start()
    await stage(cluster.node('n5'), {action: 'leave', name: 'n3'})
    const tookMs = await cluster.until(() => names.every((name) => cluster.node(name).view.view.staged.some((change) => change.name === 'n3' && change.action === 'leave')))
    expect(tookMs).toBeLessThanOrEqual(10 * gossipIntervalMs)
    expect(converged(cluster, names)).toBe(true)
    expect(cluster.errors).toEqual([])
  })

  it('lets a node started with seeds announce itself and learn the ring', async () => {
    const cluster = new MembershipCluster({names: ['n1', 'n2', 'n3']})
    await cluster.start()
    const n4 = await cluster.join('n4', {seeds: ['n1']})
    expect(n4.view.ring.version).toBe(0)
    expect(n4.view.member('n4')?.status).toBe('joining')
    await cluster.until(() => converged(cluster, ['n1', 'n2', 'n3', 'n4']))
    expect(n4.view.ring).toEqual(cluster.node('n1').view.ring)
    for (const name of ['n1', 'n2', 'n3']) expect(cluster.node(name).view.member('n4')).toMatchObject({status: 'joining', address: 'n4.test:7000'})
    expect(cluster.node('n1').view.ring.nodes.map((node) => node.name)).toEqual(['n1', 'n2', 'n3'])
  })

  it('commits through the claimant: staged anywhere, committed anywhere, one new ring version', async () => {
    const cluster = new MembershipCluster({names: ['n1', 'n2', 'n3']})
    await cluster.start()
    await cluster.join('n4', {seeds: ['n2']})
    await stage(cluster.node('n3'), {action: 'join', name: 'n4', address: 'n4.test:7000'})
    const plan = await admin(cluster.node('n2'), 'admin.plan')
    expect(plan).toMatchObject({claimant: 'n1', baseRingVersion: 1, ringVersion: 2, transitions: [{name: 'n4', from: 'joining', to: 'valid'}]})
    expect((plan.transfers as {to: string}[]).length).toBeGreaterThan(0)
    expect((plan.transfers as {to: string}[]).every((transfer) => transfer.to === 'n4')).toBe(true)
    // Two commits at once through different nodes: both go to the claimant, one commits.
    const outcomes = await Promise.all([cluster.node('n2').handle('admin.commit', {}), cluster.node('n3').handle('admin.commit', {})])
    const codes = outcomes.map((outcome) => (outcome.ok ? 'ok' : outcome.error.code)).sort()
    expect(codes).toEqual(['NOTHING_STAGED', 'ok'])
    await cluster.until(() => converged(cluster, ['n1', 'n2', 'n3', 'n4']))
    const view = cluster.node('n4').view.view
    expect(view.ring.version).toBe(2)
    expect(view.members.map((member) => [member.name, member.status])).toEqual([
      ['n1', 'valid'],
      ['n2', 'valid'],
      ['n3', 'valid'],
      ['n4', 'valid'],
    ])
    expect(pendingChanges(view)).toEqual([])
  })

  it('refuses to commit when nothing is staged, and stages only what makes sense', async () => {
    const cluster = new MembershipCluster({names: ['n1', 'n2', 'n3']})
    await cluster.start()
    const commit = await cluster.node('n1').handle('admin.commit', {})
    expect(commit.ok ? 'ok' : commit.error.code).toBe('NOTHING_STAGED')
    const bad = await Promise.all([
      cluster.node('n1').handle('admin.stage', {action: 'leave', name: 'n9'}),
      cluster.node('n1').handle('admin.stage', {action: 'join', name: 'n2'}),
      cluster.node('n1').handle('admin.stage', {action: 'join', name: 'n9'}),
      cluster.node('n1').handle('admin.stage', {action: 'leave'}),
    ])
    expect(bad.map((response) => (response.ok ? 'ok' : response.error.code))).toEqual(['MEMBER_NOT_VALID', 'MEMBER_ALREADY_JOINED', 'STAGE_ADDRESS_MISSING', 'STAGE_NAME_MISSING'])
    await stage(cluster.node('n1'), {action: 'leave', name: 'n2'})
    await stage(cluster.node('n1'), {action: 'clear'})
    const plan = await admin(cluster.node('n1'), 'admin.plan')
    expect(plan.transitions).toEqual([])
  })

  it('persists the view and reloads it at restart', async () => {
    const cluster = new MembershipCluster({names: ['n1', 'n2', 'n3', 'n4']})
    await cluster.start()
    await stage(cluster.node('n1'), {action: 'leave', name: 'n4'})
    await admin(cluster.node('n1'), 'admin.commit')
    await cluster.until(() => cluster.node('n2').view.ring.version === 2)
    expect(await cluster.metas.get('n2')!.read(viewDocument)).toBeDefined()
    const restarted = await cluster.restart('n2')
    expect(restarted.view.ring.version).toBe(2)
    expect(restarted.view.member('n4')?.status).not.toBe('valid')
  })

  it('refuses to start on a persisted view of another partition count, and ignores gossip of one', async () => {
    const cluster = new MembershipCluster({names: ['n1', 'n2', 'n3']})
    await cluster.start()
    await cluster.advance(gossipIntervalMs)
    await expect(cluster.restart('n2', {partitions: 32})).rejects.toThrow(ViewMismatchError)
    await expect(cluster.restart('n2', {partitions: 32})).rejects.toMatchObject({code: 'VIEW_MISMATCH', exitCode: 2})
    await cluster.restart('n2')
    const stranger = await cluster.join('x1', {seeds: ['n1'], partitions: 32})
    await cluster.advance(5 * gossipIntervalMs)
    expect(stranger.view.ring.version).toBe(0)
    expect(cluster.node('n1').view.member('x1')).toBeUndefined()
  })

  it('answers admin.status with members, staged changes, health, hints and handoffs', async () => {
    const cluster = new MembershipCluster({names: ['n1', 'n2', 'n3']})
    await cluster.start()
    await stage(cluster.node('n2'), {action: 'leave', name: 'n3'})
    const status = await admin(cluster.node('n2'), 'admin.status')
    expect(status).toEqual({
      version: 1,
      name: 'n2',
      claimant: 'n1',
      view: {
        members: ['n1', 'n2', 'n3'].map((name) => ({name, address: `${name}.test:7000`, status: 'valid', weight: 1})),
        ringVersion: 1,
        staged: [{name: 'n3', action: 'leave'}],
      },
      health: {suspects: []},
      hintsPending: 0,
      handoffs: [],
      cut: [],
    })
  })
})
