// Writer identities for dots ("actors"; Riak calls them vnode ids with epochs). A version
// vector entry X:n claims that the object has seen every write of actor X to this key up to
// n. That claim holds only while X's own copy of the key holds (or supersedes) every write
// X made to it: X applies the put rule to its copy, so the object it sends out carries all
// of X's earlier writes. When X's copy can have lost some of them, the next write must
// come from a new actor, or its version vector would cover writes it never carried and
// replicas would drop them (an acknowledged write lost). X's copy can lose its own writes
// when:
//   - X deletes copies of a partition: a fallback after delivering its hints, an old owner
//     after handing the partition off, anti-entropy reaping tombstones;
//   - X restarts after a crash that lost writes it had not synced (sync modes other than
//     `always`: the put had already gone to other replicas).
//   - X is started again under its name on an empty data directory: its copies, its dot
//     counter and these epochs are all gone, and its next dots would repeat old ones.
// So the actor of node X in partition p is X while nothing was ever lost, and `X~r.e`
// afterwards: r counts restarts that may have lost writes, e counts deletions in p after
// which the old actor had written. Both are persisted before the loss they guard against
// can happen (before the delete; at start, before the first write). A data directory that
// turns out to replace an earlier one of the same name (identity.ts) starts r at a random
// base, since the earlier directory's r is gone with it. Node names cannot contain `~`
// (daemon/config.ts), so actors never collide with another node's name.
import type {Random} from '../core/random.js'
import type {MetaStore} from './ports.js'

const documentName = 'actors'

/** Restart bases drawn for a replaced data directory are below this: two directories of
 * one name then share a base with odds of one in a billion. */
const restartBaseMax = 2 ** 30

interface Persisted {
  restarts: number
  epochs: Record<string, number>
  /** Random id of this data directory; absent in directories written before it existed. */
  dataId?: string
  /** False while a new data directory has not learned whether its name wrote before. */
  settled?: boolean
}

/** How an unsettled data directory settles (identity.ts). */
export type Settlement = 'new' | 'replaced'

export class Actors {
  private restarts = 0
  private epochs = new Map<number, number>()
  /** Partitions whose current actor has written since its epoch began. Unknown after a
   * start, so every partition counts as used until its epoch moves on. */
  private readonly used = new Set<number>()
  private unknownUse = true
  private readonly fresh = new Set<number>()
  private saving: Promise<void> = Promise.resolve()
  private id = ''
  private isSettled = true
  /** What a write does while unsettled: set by the identity (identity.ts). */
  private whenUnsettled: (() => Promise<void>) | undefined

  constructor(
    private readonly name: string,
    private readonly meta: MetaStore,
    /** False when acknowledged writes can be lost in a crash (sync mode other than always). */
    private readonly durableWrites: boolean,
    private readonly random: Random,
  ) {}

  /** Loads the epochs; a node whose writes may not have survived its last stop starts a new
   * restart epoch, durably, before it writes anything. `newDirectory`: nothing of this node
   * is on disk that a write would have left (no dot counter): if the actors document has no
   * data id either, the directory is new and stays unsettled until identity.ts settles it. */
  async load(options: {newDirectory: boolean}): Promise<void> {
    const bytes = await this.meta.read(documentName)
    let persisted: Persisted | undefined
    if (bytes !== undefined) {
      persisted = JSON.parse(new TextDecoder().decode(bytes)) as Persisted
      this.restarts = persisted.restarts
      this.epochs = new Map(Object.entries(persisted.epochs).map(([partition, epoch]) => [Number(partition), epoch]))
    }
    const known = persisted?.dataId
    this.id = known ?? randomId(this.random)
    this.isSettled = known === undefined ? !options.newDirectory : persisted?.settled !== false
    let changed = known === undefined
    if (!this.durableWrites) {
      this.restarts++
      this.epochs.clear()
      this.unknownUse = false
      changed = true
    }
    if (changed) await this.save()
  }

  /** The random id of this data directory, announced in gossip once settled. */
  get dataId(): string {
    return this.id
  }

  /** False while this is a new data directory that may replace an earlier one of the same
   * name: its writes then wait for ready(). */
  get settled(): boolean {
    return this.isSettled
  }

  /** Resolves once the directory is settled; undefined when it already is (the put path
   * awaits only then). */
  ready(): Promise<void> | undefined {
    if (this.isSettled) return undefined
    // Without an identity to ask the cluster (identity.ts), a new actor is the safe answer.
    return this.whenUnsettled?.() ?? this.settle('replaced').then(() => undefined)
  }

  onUnsettledWrite(run: () => Promise<void>): void {
    this.whenUnsettled = run
  }

  /** Settles a new data directory, durably: 'new' keeps the plain actor, 'replaced' moves
   * every partition to a restart base no earlier directory of this name used. False when it
   * was settled already (by another answer that came first). */
  async settle(settlement: Settlement): Promise<boolean> {
    if (this.isSettled) return false
    if (settlement === 'replaced') {
      this.restarts = 1 + (this.random.nextUint32() % restartBaseMax)
      this.epochs.clear()
    }
    this.isSettled = true
    await this.save()
    return true
  }

  /** The r of this node's `name~r.e` actors. */
  get restartNumber(): number {
    return this.restarts
  }

  /** The actor for a new dot in `partition`. */
  actorFor(partition: number): string {
    const epoch = this.epochs.get(partition) ?? 0
    return this.restarts === 0 && epoch === 0 ? this.name : `${this.name}~${this.restarts}.${epoch}`
  }

  /** Every actor this node has written as in `partition` (its own entries in version vectors). */
  isOwnActor(actor: string): boolean {
    return actor === this.name || actor.startsWith(`${this.name}~`)
  }

  /** Call before a write of this node's current actor in `partition` is persisted anywhere. */
  noteWrite(partition: number): void {
    this.used.add(partition)
    this.fresh.delete(partition)
  }

  /** Call before deleting any copy in `partition`: moves to a new actor first if the
   * current one has written there. */
  async beforeRemoval(partition: number): Promise<void> {
    const usedNow = this.used.has(partition) || (this.unknownUse && !this.fresh.has(partition))
    if (!usedNow) return
    this.epochs.set(partition, (this.epochs.get(partition) ?? 0) + 1)
    this.used.delete(partition)
    this.fresh.add(partition)
    await this.save()
  }

  private save(): Promise<void> {
    const document: Persisted = {
      restarts: this.restarts,
      epochs: Object.fromEntries([...this.epochs].map(([partition, epoch]) => [String(partition), epoch])),
      dataId: this.id,
      settled: this.isSettled,
    }
    const bytes = new TextEncoder().encode(JSON.stringify(document))
    this.saving = this.saving.then(() => this.meta.write(documentName, bytes))
    return this.saving
  }
}

/** 64 random bits as 16 hex digits. */
function randomId(random: Random): string {
  return [random.nextUint32(), random.nextUint32()].map((word) => word.toString(16).padStart(8, '0')).join('')
}
