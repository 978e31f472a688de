// The simulator's virtual time: one queue of events ordered by (time, insertion sequence)
// and the Clock port that reads it (TigerBeetle's VOPR; FoundationDB's deterministic
// simulation). Nothing waits on real time: the loop pops the earliest event, moves the clock
// to it and runs it, then lets every promise continuation it caused settle before the next
// event. With no real I/O every continuation is a microtask, so one turn of the event loop
// (setImmediate) drains them all and the run is a pure function of the seed.
import {assert} from '../core/errors.js'
import type {Clock} from '../node/ports.js'

export interface ScheduledEvent {
  readonly timeMs: number
  /** Insertion order; breaks ties between events due at the same time. */
  readonly sequence: number
  readonly run: () => void
  cancelled: boolean
}

/** A handle to cancel an event that has not run yet. */
export interface Timer {
  cancel(): void
}

export class Scheduler implements Clock {
  // Invariant: `heap` is a binary min-heap by (timeMs, sequence); `currentMs` never decreases.
  private readonly heap: ScheduledEvent[] = []
  private sequence = 0
  private currentMs = 0
  private eventsRun = 0

  nowMs(): number {
    return this.currentMs
  }

  /** Virtual time goes on across a node's crash and restart, so it is also its wall clock. */
  wallMs(): number {
    return this.currentMs
  }

  get pending(): number {
    return this.heap.length
  }

  get executed(): number {
    return this.eventsRun
  }

  /** Runs `run` `delayMs` from now (0: after everything already due now). */
  schedule(delayMs: number, run: () => void): Timer {
    assert(Number.isFinite(delayMs) && delayMs >= 0, 'an event is scheduled at or after now')
    const event: ScheduledEvent = {timeMs: this.currentMs + delayMs, sequence: this.sequence++, run, cancelled: false}
    this.push(event)
    return {
      cancel: () => {
        event.cancelled = true
      },
    }
  }

  /** A promise that resolves `delayMs` of virtual time from now. */
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.schedule(delayMs, resolve)
    })
  }

  /** Runs events until none is left or `eventsMax` ran; returns false when it stopped at the limit. */
  async runUntilIdle(options: {readonly eventsMax: number}): Promise<boolean> {
    await settle()
    while (this.heap.length > 0) {
      if (this.eventsRun >= options.eventsMax) return false
      const event = this.pop()
      if (event.cancelled) continue
      assert(event.timeMs >= this.currentMs, 'virtual time never goes back')
      this.currentMs = event.timeMs
      this.eventsRun++
      event.run()
      await settle()
    }
    return true
  }

  private push(event: ScheduledEvent): void {
    const heap = this.heap
    heap.push(event)
    let index = heap.length - 1
    while (index > 0) {
      const parent = (index - 1) >> 1
      if (!earlier(heap[index]!, heap[parent]!)) break
      ;[heap[index], heap[parent]] = [heap[parent]!, heap[index]!]
      index = parent
    }
  }

  private pop(): ScheduledEvent {
    const heap = this.heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      let index = 0
      for (;;) {
        const left = 2 * index + 1
        const right = left + 1
        let smallest = index
        if (left < heap.length && earlier(heap[left]!, heap[smallest]!)) smallest = left
        if (right < heap.length && earlier(heap[right]!, heap[smallest]!)) smallest = right
        if (smallest === index) break
        ;[heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!]
        index = smallest
      }
    }
    return top
  }
}

function earlier(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.sequence < b.sequence)
}

/** Resolves after every pending microtask (and the microtasks they queue) has run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
