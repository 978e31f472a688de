import {Args, Flags} from '@oclif/core'
import {dirFlag, tlsFlags} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {ForceRequiredError, remove} from '../../cluster/membership.js'
import {resolveTarget} from '../../cluster/target.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterRemove extends BaseCommand {
  static override description =
    "Stage the forced removal of a node whose host is gone for good (Riak's `cluster force-remove`); needs --force. " +
    'After `dyn cluster commit` the node is marked left and dropped from the ring without handing anything off: its partitions are reassigned, ' +
    'and their new owners get the data from the surviving replicas (anti-entropy and ownership handoff). Writes held only on that node may be lost; ' +
    'for a node that still runs, use `dyn cluster leave`'
  static override examples = ['<%= config.bin %> cluster remove n3 --force', '<%= config.bin %> cluster remove n3 --force --host 10.0.0.1:7001 --json']
  static override args = {
    node: Args.string({required: true, description: 'the member to remove (n1, n2...)'}),
  }
  static override flags = {
    force: Flags.boolean({description: 'remove the node without handoff: writes held only on it may be lost', default: false}),
    host: Flags.string({description: 'stage through the node at HOST:PORT instead of the local cluster', env: 'DYN_HOST'}),
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
    dir: dirFlag,
    ...tlsFlags,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ClusterRemove)
    if (!flags.force) throw new ForceRequiredError(args.node)
    const target = await resolveTarget(flags)
    const result = await remove({dir: flags.dir, node: args.node, cluster: target.cluster, ...(flags.host === undefined ? {} : {addresses: target.seeds})})
    const via = flags.host === undefined ? '' : ` --host ${flags.host}`
    if (!this.jsonEnabled()) {
      this.log(`forced removal of ${args.node} staged (through ${result.stagedVia}). Next: \`dyn cluster plan${via}\`, then \`dyn cluster commit${via}\`.`)
    }
    return {version: jsonShapeVersion, node: args.node, ...result}
  }
}
