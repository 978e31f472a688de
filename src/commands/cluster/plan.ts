import {Flags} from '@oclif/core'
import {dirFlag, tlsFlags} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {plan, planText} from '../../cluster/membership.js'
import {resolveTarget} from '../../cluster/target.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterPlan extends BaseCommand {
  static override description =
    "Show the claimant's plan for the staged changes: member transitions, partitions changing owner (from, to) and warnings such as replicas not on distinct nodes"
  static override examples = ['<%= config.bin %> cluster plan', '<%= config.bin %> cluster plan --json']
  static override flags = {
    host: Flags.string({description: 'ask the node at HOST:PORT instead of the local cluster', env: 'DYN_HOST'}),
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
    dir: dirFlag,
    ...tlsFlags,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ClusterPlan)
    const target = await resolveTarget(flags)
    const document = await plan({dir: flags.dir, cluster: target.cluster, ...(flags.host === undefined ? {} : {addresses: target.seeds})})
    if (!this.jsonEnabled()) this.log(planText(document, {color: process.stdout.isTTY === true}))
    return {...document, version: jsonShapeVersion}
  }
}
