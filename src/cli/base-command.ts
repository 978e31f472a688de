// The base of every command: `--json` on all of them, and the exit codes of DESIGN §8 in
// both modes. oclif on its own exits 1 for any error in `--json` mode, whatever exit code
// was asked for, so errors are rendered here and the exit code is set directly.
import {Command, Errors} from '@oclif/core'
import {exitCodes} from '../core/errors.js'
import {describeOtherError, errorJson, errorText, type ErrorReport} from './error-report.js'

export type {ErrorReport} from './error-report.js'

/** Turns anything thrown into what a person or script is shown. */
export function describeError(error: unknown): ErrorReport {
  if (error instanceof Errors.CLIError) {
    // Flag and argument parsing errors: oclif marks them with exit code 2.
    if (error.oclif.exit === exitCodes.usage) {
      return {
        code: 'USAGE',
        message: error.message,
        exitCode: exitCodes.usage,
        suggestion: 'see --help for the flags and arguments this command takes',
      }
    }
    return {code: 'ERROR', message: error.message, exitCode: exitCodes.error}
  }
  return describeOtherError(error)
}

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  protected override async catch(error: Error & {exitCode?: number}): Promise<void> {
    // `this.exit()` and `--help` travel as ExitErrors; they are not failures to report.
    if (error instanceof Errors.ExitError) throw error
    const report = describeError(error)
    if (this.jsonEnabled()) this.logJson(errorJson(report))
    else process.stderr.write(errorText(report))
    process.exitCode = report.exitCode
  }
}
