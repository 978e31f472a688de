// The base of the commands that read and write keys: when a quorum is not met, the quorum
// result (which replica said what) is shown with the error, in both text and --json mode,
// because that is what a person needs to see to decide what to do next.
import {NodeFailureError} from '../core/protocol.js'
import {quorumFailureJson, quorumTable} from '../render/index.js'
import {BaseCommand, describeError} from './base-command.js'

export abstract class KvCommand extends BaseCommand {
  protected override async catch(error: Error & {exitCode?: number}): Promise<void> {
    if (!(error instanceof NodeFailureError) || error.quorum === undefined) return super.catch(error)
    if (this.jsonEnabled()) {
      this.logJson(quorumFailureJson(describeError(error), error.quorum))
      process.exitCode = error.exitCode
      return
    }
    process.stderr.write(`${quorumTable(error.quorum, {color: process.stderr.isTTY === true})}\n`)
    return super.catch(error)
  }
}
