import {Args, Flags} from '@oclif/core'
import {BaseCommand, describeError} from '../cli/base-command.js'
import {DynClient} from '../client/index.js'
import {resolveTarget} from '../cluster/index.js'
import {exitCodes} from '../core/errors.js'
import {NodeFailureError} from '../core/protocol.js'
import {getJson, getText, quorumFailureJson, quorumTable, readableContext} from '../render/index.js'

export default class Get extends BaseCommand {
  static override description = 'Read a key: its values (several when writes were concurrent), its context and the quorum result'
  static override examples = ['<%= config.bin %> get user:42', '<%= config.bin %> get user:42 --r 3 --show-clock', '<%= config.bin %> get user:42 --node n2 --json']
  static override args = {key: Args.string({required: true, description: 'the key (UTF-8)'})}
  static override flags = {
    r: Flags.integer({min: 1, description: 'replicas that must answer (1..N; default: the cluster R)'}),
    'show-clock': Flags.boolean({description: 'also show the context as a readable version vector (n1:4, n3:2)'}),
    node: Flags.string({description: 'ask this node of the local cluster (it coordinates or forwards)', exclusive: ['host']}),
    host: Flags.string({description: 'ask the node at HOST:PORT', env: 'DYN_HOST'}),
    dir: Flags.string({description: 'local cluster directory', env: 'DYN_DIR', default: './.dyn'}),
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Get)
    const target = await resolveTarget(flags)
    const client = new DynClient(target)
    try {
      const result = await client.get(args.key, flags.r === undefined ? {} : {r: flags.r})
      const input = {key: args.key, ...result, ...(flags['show-clock'] ? {clock: readableContext(result.context, target.cluster)} : {})}
      // DESIGN §8: a missing key exits 4 in both modes; --json still prints the result.
      if (!result.found) process.exitCode = exitCodes.notFound
      if (!this.jsonEnabled()) this.log(getText(input, {color: process.stdout.isTTY === true}))
      return getJson(input)
    } finally {
      await client.close()
    }
  }

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
