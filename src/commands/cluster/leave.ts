import {Args, Flags} from '@oclif/core'
import {dirFlag, tlsFlags} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {leave} from '../../cluster/membership.js'
import {resolveTarget} from '../../cluster/target.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterLeave extends BaseCommand {
  static override description =
    "Stage a node's leave; after `dyn cluster commit` its partitions are handed off to the remaining nodes and it is marked left (stop it then)"
  static override examples = ['<%= config.bin %> cluster leave n3', '<%= config.bin %> cluster leave n3 --host 127.0.0.1:7001 --json']
  static override args = {
    node: Args.string({required: true, description: 'the member to remove (n1, n2...)'}),
  }
  static override flags = {
    host: Flags.string({description: 'stage through the node at HOST:PORT instead of the local cluster', env: 'DYN_HOST'}),
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
    dir: dirFlag,
    ...tlsFlags,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ClusterLeave)
    const target = await resolveTarget(flags)
    const result = await leave({dir: flags.dir, node: args.node, cluster: target.cluster, ...(flags.host === undefined ? {} : {addresses: target.seeds})})
    const via = flags.host === undefined ? '' : ` --host ${flags.host}`
    if (!this.jsonEnabled()) this.log(`leave of ${args.node} staged (through ${result.stagedVia}). Next: \`dyn cluster plan${via}\`, then \`dyn cluster commit${via}\`.`)
    return {version: jsonShapeVersion, node: args.node, ...result}
  }
}
