// What the shell remembers between lines: the last context it saw for each key (so a put
// replaces what the person last read, as Dynamo §4.4 intends a context to be used) and the
// keys used recently (for tab completion). Both are bounded; the oldest entry goes first.

/** Keys whose context is remembered: far more than a person handles in one session, and
 * it bounds the memory of a long scripted one (a context token is some 100 bytes). */
export const contextsRememberedMax = 10_000

/** Keys offered by tab completion. */
export const recentKeysMax = 200

export interface RememberedContext {
  readonly key: string
  readonly token: string
  /** The readable version vector (`n1:4, n3:2`), or a note when the token could not be read. */
  readonly clock: string
  /** The verb whose answer carried it. */
  readonly from: string
  /** Which line of the session it came from (1-based). */
  readonly line: number
}

/** A Map used as an LRU list: re-inserting moves a key to the newest end. */
function touch<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) map.delete(map.keys().next().value!)
}

export class ShellMemory {
  private readonly contexts = new Map<string, RememberedContext>()
  private readonly recent = new Map<string, true>()

  remember(entry: RememberedContext): void {
    touch(this.contexts, entry.key, entry, contextsRememberedMax)
    this.used(entry.key)
  }

  context(key: string): RememberedContext | undefined {
    return this.contexts.get(key)
  }

  /** Every remembered context, oldest first. */
  allContexts(): RememberedContext[] {
    return [...this.contexts.values()]
  }

  forget(key: string): boolean {
    return this.contexts.delete(key)
  }

  forgetAll(): number {
    const count = this.contexts.size
    this.contexts.clear()
    return count
  }

  used(key: string): void {
    touch(this.recent, key, true, recentKeysMax)
  }

  /** Recently used keys, newest first. */
  recentKeys(): string[] {
    return [...this.recent.keys()].reverse()
  }
}
