import {describe, expect, it} from 'vitest'
import fc from 'fast-check'
import {
  MembershipError,
  StalePlanError,
  claimant,
  clearStaged,
  commitPlan,
  createView,
  markLeft,
  mergeViews,
  pendingChanges,
  planChanges,
  stageJoin,
  stageLeave,
  stageRemove,
  type Transition,
  type View,
} from '../../src/core/membership.js'
import {ownedCounts, ringViolations, transfersBetween} from '../../src/core/ring.js'
import {SuspicionTracker, suspicionDefaults} from '../../src/core/suspicion.js'

function baseView(): View {
  return createView({
    partitionCount: 64,
    replicas: 3,
    members: ['n1', 'n2', 'n3', 'n4'].map((name) => ({name, address: `127.0.0.1:${7000 + Number(name[1])}`})),
  })
}

type Operation =
  | {kind: 'join'; at: number; name: string; weight: number}
  | {kind: 'leave'; at: number; pick: number}
  | {kind: 'clear'; at: number}
  | {kind: 'commit'; at: number}
  | {kind: 'gossip'; at: number; from: number}
  | {kind: 'remove'; at: number; pick: number}
  | {kind: 'left'; at: number}
  | {kind: 'commitAnyway'; at: number}

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({kind: fc.constant('join' as const), at: fc.nat(2), name: fc.constantFrom('n5', 'n6', 'n7'), weight: fc.integer({min: 1, max: 3})}),
  fc.record({kind: fc.constant('leave' as const), at: fc.nat(2), pick: fc.nat()}),
  fc.record({kind: fc.constant('clear' as const), at: fc.nat(2)}),
  fc.record({kind: fc.constant('commit' as const), at: fc.nat(2)}),
  fc.record({kind: fc.constant('gossip' as const), at: fc.nat(2), from: fc.nat(2)}),
  fc.record({kind: fc.constant('remove' as const), at: fc.nat(2), pick: fc.nat()}),
  fc.record({kind: fc.constant('left' as const), at: fc.nat(2)}),
  // A node that believes it is the claimant while the others' views differ (a partition,
  // or views not converged yet): commits of the same ring version at once.
  fc.record({kind: fc.constant('commitAnyway' as const), at: fc.nat(2)}),
)

/** Runs operations on three simulated nodes; returns every view any node ever held. */
function simulate(operations: readonly Operation[]): View[] {
  const nodes = [baseView(), baseView(), baseView()]
  const seen: View[] = [...nodes]
  for (const op of operations) {
    const view = nodes[op.at]!
    let next = view
    try {
      next = apply(view, op, nodes)
    } catch (error) {
      if (!(error instanceof MembershipError)) throw error
    }
    nodes[op.at] = next
    seen.push(next)
  }
  return seen
}

function apply(view: View, op: Operation & {at: number}, nodes: readonly View[]): View {
  switch (op.kind) {
    case 'join':
      return stageJoin(view, {name: op.name, address: `host-${op.name}:7000`, weight: op.weight})
    case 'leave': {
      const valid = view.members.filter((member) => member.status === 'valid')
      if (valid.length <= 1) return view
      return stageLeave(view, valid[op.pick % valid.length]!.name)
    }
    case 'clear':
      return clearStaged(view)
    case 'commit':
      // Only the claimant commits (DESIGN §5); simulated node i is member n(i+1).
      if (claimant(view) !== `n${op.at + 1}`) return view
      return commitPlan(view, planChanges(view))
    case 'gossip':
      return mergeViews(view, nodes[op.from]!)
    case 'remove': {
      const removable = view.members.filter((member) => member.status === 'valid' || member.status === 'leaving')
      if (removable.length === 0) return view
      return stageRemove(view, removable[op.pick % removable.length]!.name)
    }
    case 'left': {
      // The first leaving member finished its handoff.
      const leaving = view.members.find((member) => member.status === 'leaving')
      return leaving === undefined ? view : markLeft(view, leaving.name)
    }
    case 'commitAnyway':
      return commitPlan(view, planChanges(view))
  }
}

/** What a ring decides: valid exactly for the ring's nodes, leaving never for one of them. */
function expectStatusesFollowRing(view: View): void {
  if (view.ring.version === 0) return
  const inRing = new Set(view.ring.nodes.map((node) => node.name))
  for (const member of view.members) {
    expect(member.status === 'valid', `${member.name} is ${member.status}; ring ${[...inRing].join(',')}`).toBe(inRing.has(member.name))
  }
  for (const node of view.ring.nodes) expect(view.members.some((member) => member.name === node.name)).toBe(true)
}

function shuffle<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items
    .map((item, i) => ({item, key: keys[i % keys.length]! * 1000 + i}))
    .sort((a, b) => a.key - b.key)
    .map((entry) => entry.item)
}

describe('membership merge', () => {
  const viewsArbitrary = fc.array(operationArbitrary, {maxLength: 25}).map(simulate)

  it('is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(viewsArbitrary, fc.nat(), fc.nat(), fc.nat(), (views, i, j, k) => {
        const a = views[i % views.length]!
        const b = views[j % views.length]!
        const c = views[k % views.length]!
        expect(mergeViews(a, b)).toEqual(mergeViews(b, a))
        expect(mergeViews(mergeViews(a, b), c)).toEqual(mergeViews(a, mergeViews(b, c)))
        expect(mergeViews(a, a)).toEqual(a)
      }),
      {numRuns: 100},
    )
  })

  it('keeps every member in the status its ring gives, in every view and every merge (concurrent claimants too)', () => {
    fc.assert(
      fc.property(viewsArbitrary, fc.nat(), fc.nat(), (views, i, j) => {
        for (const view of views) expectStatusesFollowRing(view)
        expectStatusesFollowRing(mergeViews(views[i % views.length]!, views[j % views.length]!))
        expectStatusesFollowRing(views.reduce(mergeViews))
      }),
      {numRuns: 100},
    )
  })

  it('lets the transitions of a losing concurrent commit lose with its ring, and shows them as staged again', () => {
    const operations = fc.array(operationArbitrary, {maxLength: 15})
    const staging = fc.array(fc.oneof(operationArbitrary.filter((op) => op.kind === 'join' || op.kind === 'leave' || op.kind === 'remove')), {maxLength: 3})
    fc.assert(
      fc.property(operations, staging, staging, (history, stagedA, stagedB) => {
        // One converged base, then two nodes stage different changes and both commit.
        const base = simulate(history).reduce(mergeViews)
        const commitAfter = (steps: readonly Operation[]): {view: View; transitions: Transition[]} | undefined => {
          let view = base
          for (const step of steps) {
            try {
              view = apply(view, step, [])
            } catch (error) {
              if (!(error instanceof MembershipError)) throw error
            }
          }
          try {
            const plan = planChanges(view)
            return plan.transitions.length === 0 ? undefined : {view: commitPlan(view, plan), transitions: [...plan.transitions]}
          } catch (error) {
            if (error instanceof MembershipError) return undefined
            throw error
          }
        }
        const a = commitAfter(stagedA)
        const b = commitAfter(stagedB)
        if (a === undefined || b === undefined) return
        const merged = mergeViews(a.view, b.view)
        expectStatusesFollowRing(merged)
        const [winner, loser] = merged.ring === a.view.ring ? [a, b] : [b, a]
        expect(merged.ring).toBe(winner.view.ring)
        for (const member of winner.view.members) {
          const now = merged.members.find((each) => each.name === member.name)!
          // A forced removal of a leaving member may win even from the losing commit: the
          // member is out of the ring either way. Every other status is the winner's.
          if (now.status === 'left' && member.status === 'leaving') continue
          expect(now.status, member.name).toBe(member.status)
        }
        // A transition of the loser for a member the winner left as it was is staged again,
        // unless the winner's side staged something else for that member.
        for (const transition of loser.transitions) {
          const status = merged.members.find((member) => member.name === transition.name)!.status
          if (status !== transition.from) continue
          const staged = merged.staged.find((change) => change.name === transition.name)
          const loserStaged = loser.view.staged.find((change) => change.name === transition.name)
          if (staged === undefined || staged !== loserStaged) continue
          expect(pendingChanges(merged).map((change) => change.name)).toContain(transition.name)
        }
      }),
      {numRuns: 150},
    )
  })

  it('converges to one view whatever the order and grouping of gossip', () => {
    fc.assert(
      fc.property(viewsArbitrary, fc.array(fc.nat(100), {minLength: 1}), fc.array(fc.nat(3), {minLength: 1}), (views, order, groups) => {
        const reference = views.reduce(mergeViews)
        // Several simulated nodes each receive a different subset in a different order,
        // then gossip their results to each other.
        const shuffled = shuffle(views, order)
        const buckets: View[][] = [[], [], [], []]
        shuffled.forEach((view, i) => buckets[groups[i % groups.length]!]!.push(view))
        const partial = buckets.filter((bucket) => bucket.length > 0).map((bucket) => bucket.reduce(mergeViews))
        expect(shuffle(partial, order).reduceRight(mergeViews)).toEqual(reference)
        expect(shuffled.reduceRight(mergeViews)).toEqual(reference)
      }),
      {numRuns: 100},
    )
  })
})

describe('staged changes', () => {
  it('plan and commit give a ring whose nodes are exactly the valid members', () => {
    fc.assert(
      fc.property(fc.array(operationArbitrary, {maxLength: 25}), (operations) => {
        for (const view of simulate(operations)) {
          let plan
          try {
            plan = planChanges(view)
          } catch (error) {
            // Leaves staged on different nodes and merged by gossip can take every node of
            // the ring away with nothing joining: the plan is refused, by that name only.
            expect(error).toBeInstanceOf(MembershipError)
            expect((error as MembershipError).code).toBe('LAST_MEMBER_LEAVING')
            const leaving = view.staged.filter((change) => change.action === 'leave').map((change) => change.name)
            expect(view.ring.nodes.every((node) => leaving.includes(node.name))).toBe(true)
            expect(view.staged.some((change) => change.action === 'join')).toBe(false)
            continue
          }
          const committed = commitPlan(view, plan)
          const valid = committed.members.filter((member) => member.status === 'valid')
          expect(committed.ring.nodes).toEqual(valid.map((member) => ({name: member.name, weight: member.weight})))
          expect(plan.transfers).toEqual(transfersBetween(view.ring, plan.ring))
          if (plan.transitions.length > 0) expect(committed.ring.version).toBe(view.ring.version + 1)
          // The statuses now reflect every change the plan applied: nothing is pending for them.
          expect(pendingChanges(committed).filter((change) => plan.transitions.some((t) => t.name === change.name))).toEqual([])
          const notDistinct = plan.warnings.some((warning) => warning.kind === 'replicas-not-distinct')
          expect(notDistinct).toBe(ringViolations(plan.ring).length > 0)
        }
      }),
      {numRuns: 60},
    )
  })

  it('shows a join as a plan: transfers to the new node, a transition, no warnings', () => {
    const view = stageJoin(baseView(), {name: 'n5', address: 'h:1'})
    expect(claimant(view)).toBe('n1')
    const plan = planChanges(view)
    expect(plan.claimant).toBe('n1')
    expect(plan.transitions).toEqual([{name: 'n5', from: 'joining', to: 'valid'}])
    expect(plan.transfers.length).toBe(ownedCounts(plan.ring).get('n5'))
    expect(plan.transfers.every((transfer) => transfer.to === 'n5')).toBe(true)
    expect(plan.warnings).toEqual([])
    const committed = commitPlan(view, plan)
    expect(() => commitPlan(committed, plan)).toThrow(StalePlanError)
    expect(clearStaged(stageJoin(committed, {name: 'n6', address: 'h:2'})).staged.every((c) => c.action === 'none')).toBe(true)
  })

  it('warns when fewer nodes than N remain and when replicas cannot be distinct', () => {
    let view = baseView()
    view = commitPlan(stageLeave(stageLeave(view, 'n4'), 'n3'), planChanges(stageLeave(stageLeave(view, 'n4'), 'n3')))
    expect(planChanges(view).warnings.map((warning) => warning.kind)).toEqual(
      expect.arrayContaining(['fewer-nodes-than-replicas', 'replicas-not-distinct']),
    )
    expect(markLeft(view, 'n4').members.find((member) => member.name === 'n4')!.status).toBe('left')
    expect(() => stageLeave(view, 'n4')).toThrow(MembershipError)
  })
})

describe('forced removal', () => {
  function codeOf(action: () => unknown): string | undefined {
    try {
      action()
      return undefined
    } catch (error) {
      if (error instanceof MembershipError) return error.code
      throw error
    }
  }

  it('takes a valid member out of the ring and marks it left, with a warning in the plan', () => {
    const view = stageRemove(baseView(), 'n3')
    const plan = planChanges(view)
    expect(plan.transitions).toEqual([{name: 'n3', from: 'valid', to: 'left'}])
    expect(plan.warnings).toContainEqual({kind: 'forced-removal', node: 'n3', partitions: ownedCounts(baseView().ring).get('n3')})
    expect(plan.transfers.every((transfer) => transfer.from === 'n3')).toBe(true)
    const committed = commitPlan(view, plan)
    expect(committed.members.find((member) => member.name === 'n3')!.status).toBe('left')
    expect(committed.ring.nodes.map((node) => node.name)).toEqual(['n1', 'n2', 'n4'])
    expect(pendingChanges(committed)).toEqual([])
  })

  it('marks a leaving member that cannot hand off left, in a new ring version with the same owners', () => {
    const leaving = commitPlan(stageLeave(baseView(), 'n2'), planChanges(stageLeave(baseView(), 'n2')))
    expect(leaving.members.find((member) => member.name === 'n2')!.status).toBe('leaving')
    const view = stageRemove(leaving, 'n2')
    const plan = planChanges(view)
    expect(plan.transitions).toEqual([{name: 'n2', from: 'leaving', to: 'left'}])
    expect(plan.transfers).toEqual([])
    const committed = commitPlan(view, plan)
    expect(committed.ring.version).toBe(leaving.ring.version + 1)
    expect(committed.ring.owners).toEqual(leaving.ring.owners)
    expect(committed.members.find((member) => member.name === 'n2')!.status).toBe('left')
    expect(committed.leaving).toEqual([])
  })

  it('hands the claim to the next member when the claimant is staged for removal', () => {
    expect(claimant(baseView())).toBe('n1')
    const view = stageRemove(baseView(), 'n1')
    expect(claimant(view)).toBe('n2')
    expect(planChanges(view).claimant).toBe('n2')
  })

  it('refuses an unknown node, a joining or left one, and the last valid member', () => {
    expect(codeOf(() => stageRemove(baseView(), 'n9'))).toBe('MEMBER_UNKNOWN')
    expect(codeOf(() => stageRemove(stageJoin(baseView(), {name: 'n5', address: 'h:5'}), 'n5'))).toBe('MEMBER_NOT_REMOVABLE')
    const removed = commitPlan(stageRemove(baseView(), 'n4'), planChanges(stageRemove(baseView(), 'n4')))
    expect(codeOf(() => stageRemove(removed, 'n4'))).toBe('MEMBER_NOT_REMOVABLE')
    let view = stageRemove(stageRemove(stageRemove(baseView(), 'n1'), 'n2'), 'n3')
    expect(codeOf(() => stageRemove(view, 'n4'))).toBe('LAST_MEMBER')
    view = commitPlan(view, planChanges(view))
    expect(view.ring.nodes.map((node) => node.name)).toEqual(['n4'])
    expect(codeOf(() => stageRemove(view, 'n4'))).toBe('LAST_MEMBER')
  })
})

describe('suspicion', () => {
  const suspectAfterMs = suspicionDefaults.suspectAfterMs

  it('keeps a node healthy while heartbeats arrive within the timeout, suspects it after', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({min: 0, max: suspectAfterMs}), {minLength: 1, maxLength: 30}), fc.integer({min: 1, max: 10_000}), (gaps, silence) => {
        const tracker = new SuspicionTracker()
        let nowMs = 1_000_000
        for (const gap of gaps) {
          expect(tracker.isSuspect('b', nowMs + gap)).toBe(false)
          nowMs += gap
          tracker.recordHeartbeat('b', nowMs)
        }
        expect(tracker.isSuspect('b', nowMs + suspectAfterMs)).toBe(false)
        expect(tracker.isSuspect('b', nowMs + suspectAfterMs + silence)).toBe(true)
        expect(tracker.suspects(nowMs + suspectAfterMs + silence)).toEqual(['b'])
        expect(tracker.healthyAt(nowMs)('b')).toBe(true)
      }),
      {numRuns: 200},
    )
  })

  it('suspects after consecutive timeouts until the node is heard from again; deterministic in nowMs', () => {
    const run = (): boolean[] => {
      const tracker = new SuspicionTracker()
      const answers: boolean[] = []
      tracker.recordHeartbeat('b', 0)
      tracker.recordTimeout('b', 100)
      answers.push(tracker.isSuspect('b', 100))
      tracker.recordTimeout('b', 200)
      answers.push(tracker.isSuspect('b', 200))
      tracker.recordHeartbeat('b', 300)
      answers.push(tracker.isSuspect('b', 300))
      tracker.recordHeartbeat('b', 250) // late, out of order: ignored
      answers.push(tracker.isSuspect('b', 300 + suspectAfterMs), tracker.isSuspect('b', 301 + suspectAfterMs))
      answers.push(tracker.isSuspect('unknown', 10 ** 9))
      return answers
    }
    expect(run()).toEqual([false, true, false, false, true, false])
    expect(run()).toEqual(run())
  })
})
