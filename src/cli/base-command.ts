// The base of every command: `--json` on all of them, and the exit codes of DESIGN §8 in
// both modes. oclif on its own exits 1 for any error in `--json` mode, whatever exit code
// was asked for, so errors are rendered here and the exit code is set directly.
import {Command, Errors, type Interfaces} from '@oclif/core'
import {exitCodes} from '../core/errors.js'
import {describeOtherError, errorJson, errorText, type ErrorReport} from './error-report.js'
import {tlsFlags} from './flags.js'

/** oclif's FlagOutput and ArgOutput, which it does not export by name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- oclif's own definition
type Output = {[name: string]: any}

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

  /** Parses, then makes the DYN_TLS_* variables say what the --tls-* flags say (flag
   * first, then the variable, as oclif reads them): the client library (client/tls.ts)
   * reads the variables, so every client of the process, and no other, connects with the
   * command's TLS settings. A command without the flags (tlsFlags) connects in plaintext,
   * whatever the variables held: `dyn check` and `dyn cluster up` run local clusters. */
  protected override async parse<F extends Output, B extends Output, A extends Output>(options?: Interfaces.Input<F, B, A>, argv?: string[]): Promise<Interfaces.ParserOutput<F, B, A>> {
    const parsed = await super.parse(options, argv)
    const declared = options?.flags?.['tls-ca'] === tlsFlags['tls-ca']
    const flags = parsed.flags as Record<string, unknown>
    for (const [flag, {env: variable}] of Object.entries(tlsFlags)) {
      if (variable === undefined) continue
      const value = flags[flag]
      if (declared && typeof value === 'string' && value !== '') process.env[variable] = value
      else delete process.env[variable]
    }
    return parsed
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<void> {
    // `this.exit()` and `--help` travel as ExitErrors; they are not failures to report.
    if (error instanceof Errors.ExitError) throw error
    const report = describeError(error)
    if (this.jsonEnabled()) this.logJson(errorJson(report))
    else process.stderr.write(errorText(report))
    process.exitCode = report.exitCode
  }
}
