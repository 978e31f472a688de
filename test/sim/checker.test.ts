// The checker must catch real bugs: each test breaks a node on purpose through a hook of the
// simulator and expects a SimulationFailure naming the seed, the invariant and the replay.
import {Buffer} from 'node:buffer'
import {describe, expect, it} from 'vitest'
import {decodeObject, encodeContext, encodeObject, versionVector, type StoredObject} from '../../src/core/causality.js'
import {hintsPartition} from '../../src/node/hints.js'
import type {ObjectStore} from '../../src/node/ports.js'
import {runSimulation, SimulationFailure, type RequestHandler, type SimulationOptions} from '../../src/sim/index.js'

/** The ways an acknowledged write can go missing: gone from every replica, never stored
 * under its dot, stored with another value, or its dot reissued to another write. */
const writeLoss = [
  'no acknowledged write lost',
  'an acknowledged dot is its write',
  'an acknowledged write keeps its value',
  'one dot names one write',
  'a replica drops only covered siblings',
]

/** Runs seeds from 1 until one fails (with a violation `wanted` accepts); returns the
 * failure. A run stops at its first violation, so a sabotage that breaks several
 * invariants shows the one it reaches first. */
async function firstFailure(
  options: Omit<SimulationOptions, 'seed'>,
  seedsMax: number,
  wanted: (invariant: string) => boolean = () => true,
): Promise<SimulationFailure> {
  for (let seed = 1; seed <= seedsMax; seed++) {
    try {
      await runSimulation({...options, seed})
    } catch (error) {
      if (!(error instanceof SimulationFailure)) throw error
      if (wanted(error.violation.invariant)) return error
    }
  }
  throw new Error(`no failure in ${seedsMax} seeds`)
}

/** A store that forwards every call; the sabotaged variants below replace some of them. */
function passThrough(store: ObjectStore): ObjectStore {
  return {
    get: (partition, key) => store.get(partition, key),
    put: (partition, key, value) => store.put(partition, key, value),
    delete: (partition, key) => store.delete(partition, key),
    entries: (partition) => store.entries(partition),
    partitions: () => store.partitions(),
    drop: (partition) => store.drop(partition),
  }
}

/** Last-write-wins on every node: keeps only the sibling with the highest counter, the way
 * wall-clock conflict resolution silently drops concurrent writes. */
function lastWriteWins(_node: string, store: ObjectStore): ObjectStore {
  return {
    ...passThrough(store),
    put: (partition, key, value) => {
      // Hint records are not objects.
      if (partition === hintsPartition) return store.put(partition, key, value)
      const object = decodeObject(value)
      const newest = [...object.siblings].sort((a, b) => b.dot.counter - a.dot.counter).slice(0, 1)
      const kept: StoredObject = {vv: object.vv, siblings: newest}
      return store.put(partition, key, encodeObject(kept))
    },
  }
}

/** A coordinator that ignores the client's context and writes as if it had seen everything. */
function inflateContexts(_node: string, handler: RequestHandler): RequestHandler {
  const everything = encodeContext(versionVector({n1: 1000, n2: 1000, n3: 1000, n4: 1000, n5: 1000}), {cluster: 'sim'})
  return ((type, request) => {
    if (type === 'kv.put' && (request as {forwarded?: boolean}).forwarded !== true) {
      return handler(type, {...(request as object), context: everything} as typeof request)
    }
    return handler(type, request)
  }) as RequestHandler
}

describe('the checker', () => {
  it('catches a last-write-wins store that drops concurrent siblings', async () => {
    // It can also show as a context naming a sibling that no replica kept.
    const failure = await firstFailure({wrapStore: lastWriteWins}, 30, (invariant) => writeLoss.includes(invariant))
    expect(writeLoss).toContain(failure.violation.invariant)
    expect(failure.message).toContain('acknowledged with dot')
    expect(failure.message).toMatch(new RegExp(`^seed ${failure.seed}: invariant "`))
    expect(failure.message).toContain(`replay: npm run sim -- --seed ${failure.seed}`)
    expect(failure.replay).toBe(`npm run sim -- --seed ${failure.seed} --verbose`)
    // The replay reproduces the same violation.
    await expect(runSimulation({seed: failure.seed, wrapStore: lastWriteWins})).rejects.toThrow(failure.message)
  })

  it('catches a coordinator that writes with a context the client never sent', async () => {
    const failure = await firstFailure({wrapHandler: inflateContexts}, 30)
    expect(failure.violation.invariant).toBe('contexts cover only existing writes')
    expect(failure.violation.key).toMatch(/^k\d$/)
    expect(failure.message).toContain('returned context')
  })

  it('catches replicas that overwrite their copy instead of merging', async () => {
    // The store forgets a node's copy for the read that starts a replica.put, so the node
    // stores the incoming object as it is: concurrent siblings it held are gone.
    const overwrite = new Set<string>()
    const wrapStore = (node: string, store: ObjectStore): ObjectStore => ({
      ...passThrough(store),
      get: (partition, key) => (overwrite.delete(`${node}/${Buffer.from(key).toString()}`) ? Promise.resolve(undefined) : store.get(partition, key)),
      put: (partition, key, value) => store.put(partition, key, value),
    })
    const wrapHandler = (node: string, handler: RequestHandler): RequestHandler =>
      ((type, request) => {
        if (type === 'replica.put') overwrite.add(`${node}/${Buffer.from((request as {key: Uint8Array}).key).toString()}`)
        return handler(type, request)
      }) as RequestHandler
    const failure = await firstFailure({wrapStore, wrapHandler}, 30)
    expect(writeLoss).toContain(failure.violation.invariant)
  })

  it('catches a store that loses a key on every replica', async () => {
    const lossy = (_node: string, store: ObjectStore): ObjectStore => ({
      ...passThrough(store),
      get: async (partition, key) => (Buffer.from(key).toString() === 'k0' ? undefined : store.get(partition, key)),
      put: (partition, key, value) => store.put(partition, key, value),
    })
    const failure = await firstFailure({wrapStore: lossy}, 10)
    expect(failure.violation.key).toBe('k0')
  })

  it("catches a store whose scan at start misses keys: the restarted node's tree disagrees with its store", async () => {
    const forgetful = (_node: string, store: ObjectStore): ObjectStore => ({
      ...passThrough(store),
      entries: async function* (partition) {
        for await (const entry of store.entries(partition)) if (partition === hintsPartition || entry.key.at(-1)! % 2 === 1) yield entry
      },
    })
    // Few operations: the check needs a run that restarts a node, not a long one.
    const failure = await firstFailure({wrapStore: forgetful, operationsPerClient: 6}, 60)
    expect(["a node's tree matches its store", 'replica trees converge', 'only replicas store a key']).toContain(failure.violation.invariant)
    await expect(runSimulation({seed: failure.seed, wrapStore: forgetful, operationsPerClient: 6})).rejects.toThrow(failure.message)
  })
})
