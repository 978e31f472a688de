// Stopping a foreground node on a signal: the first SIGTERM or SIGINT starts the graceful
// close (DESIGN §7: stop accepting, finish in flight, sync); a second one while it runs
// exits at once, for an operator who does not want to wait.
import type {Daemon} from './daemon.js'

export const stopSignals = ['SIGTERM', 'SIGINT'] as const

export type StopSignal = (typeof stopSignals)[number]

/** Exit code when a second signal cuts the graceful close short: an error, since writes
 * queued but not yet synced may be lost (the store recovers from it at the next start). */
export const exitCodeInterrupted = 1

/** Resolves with the signal once the daemon has closed after it; rejects if closing failed. */
export function closeOnSignal(daemon: Daemon, onSecondSignal: (signal: StopSignal) => void = () => process.exit(exitCodeInterrupted)): Promise<StopSignal> {
  return new Promise((resolve, reject) => {
    let stopping = false
    const handlers = stopSignals.map((signal) => {
      const handler = (): void => {
        if (stopping) return onSecondSignal(signal)
        stopping = true
        daemon.close().then(
          () => {
            for (const [name, registered] of handlers) process.off(name, registered)
            resolve(signal)
          },
          (error: unknown) => {
            for (const [name, registered] of handlers) process.off(name, registered)
            reject(error)
          },
        )
      }
      process.on(signal, handler)
      return [signal, handler] as const
    })
  })
}
