import {Args, Flags} from '@oclif/core'
import {BaseCommand, describeError} from '../cli/base-command.js'
import {DynClient} from '../client/index.js'
import {resolveTarget} from '../cluster/index.js'
import {NodeFailureError} from '../core/protocol.js'
import {putJson, putText, quorumFailureJson, quorumTable, readableContext} from '../render/index.js'

export default class Delete extends BaseCommand {
  static override description = 'Delete a key (writes a tombstone). Without --context the node reads the key first and deletes what a quorum holds'
  static override examples = ['<%= config.bin %> delete user:42', '<%= config.bin %> delete user:42 --context CONTEXT_FROM_GET --w 3']
  static override args = {key: Args.string({required: true, description: 'the key (UTF-8)'})}
  static override flags = {
    context: Flags.string({description: 'context from an earlier get: delete exactly what that get saw'}),
    w: Flags.integer({min: 1, description: 'replicas that must acknowledge (1..N; default: the cluster W)'}),
    'show-clock': Flags.boolean({description: 'also show the context as a readable version vector (n1:4, n3:2)'}),
    node: Flags.string({description: 'send to this node of the local cluster (it coordinates or forwards)', exclusive: ['host']}),
    host: Flags.string({description: 'send to the node at HOST:PORT', env: 'DYN_HOST'}),
    dir: Flags.string({description: 'local cluster directory', env: 'DYN_DIR', default: './.dyn'}),
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Delete)
    const target = await resolveTarget(flags)
    const client = new DynClient(target)
    try {
      const result = await client.delete(args.key, {
        ...(flags.context === undefined ? {} : {context: flags.context}),
        ...(flags.w === undefined ? {} : {w: flags.w}),
      })
      const input = {key: args.key, ...result, ...(flags['show-clock'] ? {clock: readableContext(result.context, target.cluster)} : {})}
      if (!this.jsonEnabled()) this.log(putText({...input, verb: 'deleted'}, {color: process.stdout.isTTY === true}))
      return {...putJson(input), deleted: true}
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
