// The nemesis schedule of `dyn check` (pure) and the timeline drawn from a history.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {checkHistory, clientSeed, faultKinds, historyLine, parseHistory, planFaults, renderTimeline, type Fault, type FaultKind, type Operation} from '../../src/check/index.js'
import {faultMsMax, unsyncedWindowMsMax} from '../../src/check/schedule.js'

const nodes = ['n1', 'n2', 'n3', 'n4', 'n5']
const kinds = fc.subarray([...faultKinds], {minLength: 1})

describe('the schedule of dyn check', () => {
  it('is a function of the seed: faults one after another, inside the run, on nodes of the cluster', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({min: 5_000, max: 600_000}), kinds, fc.subarray(nodes), (seed, durationMs, chosen, unsyncedNodes) => {
        const options = {seed, durationMs, nodes, kinds: chosen as FaultKind[], unsyncedNodes}
        const plan = planFaults(options)
        expect(planFaults(options)).toEqual(plan)
        let freeFromMs = 0
        for (const fault of plan) {
          expect(fault.atMs).toBeGreaterThanOrEqual(freeFromMs + 1_000)
          const endMs = fault.atMs + (fault.windowMs ?? 0) + fault.durationMs
          expect(endMs).toBeLessThanOrEqual(durationMs)
          expect(fault.durationMs).toBeLessThanOrEqual(faultMsMax)
          expect(fault.windowMs ?? 0).toBeLessThanOrEqual(unsyncedWindowMsMax)
          expect(chosen).toContain(fault.kind)
          if (fault.kind === 'lose-unsynced') expect(fault.nodes.every((node) => unsyncedNodes.includes(node))).toBe(true)
          if (fault.kind === 'partition') {
            expect(fault.groups).toHaveLength(2)
            expect([...fault.groups![0]!, ...fault.groups![1]!].sort()).toEqual(nodes)
            expect(fault.groups!.every((group) => group.length > 0)).toBe(true)
          }
          freeFromMs = endMs
        }
        if (chosen.length === 1 && chosen[0] === 'lose-unsynced' && unsyncedNodes.length === 0) expect(plan).toEqual([])
      }),
      {numRuns: 300},
    )
  })

  it('gives each client its own stream', () => {
    expect(new Set([0, 1, 2, 3].map((index) => clientSeed(7, index))).size).toBe(4)
  })
})

describe('the history and the timeline', () => {
  const put: Operation = {id: 1, client: 'c1', node: 'n1', kind: 'put', key: 'k0', value: 'c1-1', context: [], invokeMs: 100, completeMs: 120, outcome: 'ok', dot: {node: 'n1', counter: 1}, acknowledgedBy: [{node: 'n1'}, {node: 'n2'}]}
  const get: Operation = {id: 2, client: 'c2', node: 'n3', kind: 'get', key: 'k0', invokeMs: 200, completeMs: 230, outcome: 'ok', returnedContext: [], siblings: []}
  const fault: Fault = {id: 1, kind: 'kill', nodes: ['n2'], startMs: 150, endMs: 900}

  it('reads back what it wrote', () => {
    const {outcome: _outcome, completeMs: _completeMs, ...invoked} = put
    const text = [historyLine({type: 'invoke', op: invoked}), historyLine({type: 'fault-start', fault}), historyLine({type: 'complete', op: put}), historyLine({type: 'complete', op: get})].join('')
    const parsed = parseHistory(text)
    expect(parsed.operations).toEqual([put, get])
    expect(parsed.faults).toEqual([fault])
  })

  it('draws lost writes, late writes and faults with the verdict', () => {
    // The replicas end empty: the acknowledged put is lost, and the read after it missed it.
    const result = checkHistory({operations: [put, get], faults: [fault], copies: new Map([['k0', new Map([['n1', undefined], ['n2', undefined], ['n3', undefined]])]]), unreadable: [], convergence: {converged: true, convergeMs: 10, differing: []}, siblingsMax: 25})
    expect(result.lostOperations).toEqual([1])
    const svg = renderTimeline({seed: 9, clients: ['c1', 'c2'], nodes: ['n1', 'n2', 'n3'], operations: [put, get], faults: [fault], phases: {workloadEndMs: 1000, healedMs: 1100, convergedMs: 1200, finalReadMs: 1300}, result, replay: 'dyn check --seed 9'})
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg).toContain('FAILED: no acknowledged write lost')
    expect(svg).toContain('LOST: op1 c1 put k0=c1-1')
    expect(svg).toContain('kill n2')
    expect(svg).toContain('dyn check --seed 9')
  })
})
