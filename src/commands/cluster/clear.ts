import {Args, Flags} from '@oclif/core'
import {dirFlag, tlsFlags} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {clear} from '../../cluster/membership.js'
import {resolveTarget} from '../../cluster/target.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterClear extends BaseCommand {
  static override description = 'Clear the staged change of one node, or every staged change (nothing committed is undone)'
  static override examples = ['<%= config.bin %> cluster clear', '<%= config.bin %> cluster clear n4 --json']
  static override args = {
    node: Args.string({required: false, description: 'the node whose staged change to clear (default: all)'}),
  }
  static override flags = {
    host: Flags.string({description: 'ask the node at HOST:PORT instead of the local cluster', env: 'DYN_HOST'}),
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
    dir: dirFlag,
    ...tlsFlags,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ClusterClear)
    const target = await resolveTarget(flags)
    const result = await clear({dir: flags.dir, node: args.node, cluster: target.cluster, ...(flags.host === undefined ? {} : {addresses: target.seeds})})
    if (!this.jsonEnabled()) this.log(`${args.node === undefined ? 'every staged change' : `the staged change of ${args.node}`} cleared (through ${result.stagedVia})`)
    return {version: jsonShapeVersion, node: args.node ?? null, ...result}
  }
}
