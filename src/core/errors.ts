// Named errors that carry what a person or a script needs: a stable code, the exit code
// of DESIGN §8 and a suggestion saying what to do. Expected operating errors (bad input,
// quorum not met, a full disk) are these; programmer errors are plain assertion failures.

/** Exit codes of the command-line program (DESIGN §8). */
export const exitCodes = {
  ok: 0,
  error: 1,
  usage: 2,
  quorumNotMet: 3,
  notFound: 4,
} as const

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes]

export interface DynErrorOptions {
  /** Stable, machine-readable identifier such as `KEY_TOO_LARGE`. */
  code: string
  exitCode?: ExitCode
  /** What the person should do about it, in one sentence. */
  suggestion?: string
  cause?: unknown
}

export class DynError extends Error {
  readonly code: string
  readonly exitCode: ExitCode
  readonly suggestion: string | undefined

  constructor(message: string, options: DynErrorOptions) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.code = options.code
    this.exitCode = options.exitCode ?? exitCodes.error
    this.suggestion = options.suggestion
  }
}

/** Throws when an invariant does not hold: a bug, never an operating condition. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`)
}

/** Exhaustiveness check for `switch` over discriminated unions. */
export function unreachable(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`)
}
