// What a person or a script is shown for an error, apart from oclif: the fast start of
// fast-get.ts reports errors the same way without loading oclif, whose own error types only
// base-command.ts knows about.
import {DynError, exitCodes, type ExitCode} from '../core/errors.js'
import {jsonShapeVersion} from '../render/json.js'

export interface ErrorReport {
  code: string
  message: string
  suggestion?: string
  exitCode: ExitCode
}

/** A report of anything thrown that is not one of oclif's errors. */
export function describeOtherError(error: unknown): ErrorReport {
  if (error instanceof DynError) {
    return {
      code: error.code,
      message: error.message,
      exitCode: error.exitCode,
      ...(error.suggestion === undefined ? {} : {suggestion: error.suggestion}),
    }
  }
  const systemCode = (error as NodeJS.ErrnoException | undefined)?.code
  const message = error instanceof Error ? error.message : String(error)
  return {code: typeof systemCode === 'string' ? systemCode : 'INTERNAL', message, exitCode: exitCodes.error}
}

/** The error document of --json mode. */
export function errorJson(report: ErrorReport) {
  return {version: jsonShapeVersion, error: report}
}

/** The error lines of text mode, for standard error. */
export function errorText(report: ErrorReport): string {
  return `Error: ${report.message}\n${report.suggestion === undefined ? '' : `Try: ${report.suggestion}\n`}`
}
