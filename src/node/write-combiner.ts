// Read-modify-write cycles per key, with the writes queued behind one another combined.
//
// A replica merges an incoming object into its own copy (read, sync, write); two such
// cycles on one key must not interleave, or the second write would be computed from a copy
// that misses the first and lose it. Run one after another, though, every write of a hot key
// pays a whole durable write of its own while the next ones wait: a key taking a tenth of
// the traffic was limited to one write per fsync.
//
// So the changes waiting on a key are applied together: while one batch is being
// persisted, the changes that arrive queue; the next batch reads the copy once, applies
// every queued change in arrival order (each sees the result of the one before it),
// persists only the final object, once, and then resolves each change with the object it
// produced. Nothing resolves before the write that contains it is durable. Each change's
// result is an object that existed between two writes: the final one covers it, since
// the put and sync rules only add to what they are given (core/causality.ts).
//
// Exclusive tasks (decisions that must not interleave with writes, such as deleting a
// copy) run alone, in their place in the queue.

/** Longest queue on one key: a bound on memory if one key is hammered; beyond it, callers
 * get an error instead of queueing without end. */
export const keyWaitersMax = 10_000

/** Changes applied in one batch at most: bounds the time one batch holds the event loop. */
export const combinedChangesMax = 1_000

export interface UpdateResult<S> {
  readonly before: S | undefined
  readonly after: S | undefined
  readonly changed: boolean
}

/** How one key is read and written; the first queued change's target serves its batch. */
export interface CombineTarget<S> {
  read(): Promise<S | undefined>
  equal(a: S, b: S): boolean
  /** Makes `after` the key's durable state. */
  persist(after: S): Promise<void>
}

export interface ChangeOptions<S> {
  readonly target: CombineTarget<S>
  /** Computes the new state from the current one; may throw to refuse (nothing changes then). */
  readonly change: (current: S | undefined) => S
  /** Called as soon as the change is applied, before it is persisted (the coordinator
   * starts sending the object to the other replicas then). */
  readonly computed?: (result: UpdateResult<S>) => void
}

type Task<S> =
  | {readonly kind: 'change'; readonly options: ChangeOptions<S>; resolve(result: UpdateResult<S>): void; reject(error: unknown): void}
  | {readonly kind: 'exclusive'; readonly run: () => Promise<unknown>; resolve(value: unknown): void; reject(error: unknown): void}

export class WriteCombiner<S> {
  // Invariant: a key is present exactly while it has a task running or waiting.
  private readonly queues = new Map<string, Task<S>[]>()
  /** Persists made and changes they carried, for statistics. */
  persists = 0
  changesPersisted = 0

  update(key: string, options: ChangeOptions<S>): Promise<UpdateResult<S>> {
    return new Promise<UpdateResult<S>>((resolve, reject) => this.enqueue(key, {kind: 'change', options, resolve, reject}))
  }

  exclusive<T>(key: string, run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.enqueue(key, {kind: 'exclusive', run, resolve: resolve as (value: unknown) => void, reject}))
  }

  /** Keys with a task running or waiting. */
  get size(): number {
    return this.queues.size
  }

  private enqueue(key: string, task: Task<S>): void {
    const queue = this.queues.get(key)
    if (queue === undefined) {
      this.queues.set(key, [task])
      void this.drain(key)
      return
    }
    if (queue.length >= keyWaitersMax) {
      task.reject(new Error(`more than ${keyWaitersMax} writes are waiting on one key`))
      return
    }
    queue.push(task)
  }

  private async drain(key: string): Promise<void> {
    const queue = this.queues.get(key)!
    while (queue.length > 0) {
      const head = queue[0]!
      if (head.kind === 'exclusive') {
        queue.shift()
        await head.run().then(head.resolve, head.reject)
        continue
      }
      let count = 0
      while (count < queue.length && count < combinedChangesMax && queue[count]!.kind === 'change') count++
      const batch = queue.splice(0, count) as Array<Extract<Task<S>, {kind: 'change'}>>
      await this.combine(batch)
    }
    this.queues.delete(key)
  }

  private async combine(batch: ReadonlyArray<Extract<Task<S>, {kind: 'change'}>>): Promise<void> {
    const {target} = batch[0]!.options
    let state: S | undefined
    try {
      state = await target.read()
    } catch (error) {
      for (const task of batch) task.reject(error)
      return
    }
    const outcomes: Array<{result: UpdateResult<S>} | {error: unknown}> = []
    let changes = 0
    for (const task of batch) {
      let after: S
      try {
        after = task.options.change(state)
      } catch (error) {
        outcomes.push({error})
        continue
      }
      const unchanged = state !== undefined && target.equal(state, after)
      const result = unchanged ? {before: state, after: state, changed: false} : {before: state, after, changed: true}
      if (!unchanged) {
        state = after
        changes++
      }
      outcomes.push({result})
      // Must not throw: it runs in the middle of the batch.
      task.options.computed?.(result)
    }
    let failure: unknown
    if (changes > 0 && state !== undefined) {
      try {
        await target.persist(state)
        this.persists++
        this.changesPersisted += changes
      } catch (error) {
        failure = error
      }
    }
    batch.forEach((task, i) => {
      const outcome = outcomes[i]!
      if ('error' in outcome) task.reject(outcome.error)
      // A change that found nothing to do saw the batch's earlier changes, which are not
      // durable either: it fails with them.
      else if (failure !== undefined) task.reject(failure)
      else task.resolve(outcome.result)
    })
  }
}
