import {Flags} from '@oclif/core'
import {dirFlag, tlsFlags} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {commit, planText} from '../../cluster/membership.js'
import {resolveTarget} from '../../cluster/target.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterCommit extends BaseCommand {
  static override description =
    'Commit the staged changes: the claimant computes the plan, installs the new ring and gossips it; partitions then move by ownership handoff (watch `dyn cluster status`)'
  static override examples = ['<%= config.bin %> cluster commit', '<%= config.bin %> cluster commit --json']
  static override flags = {
    host: Flags.string({description: 'ask the node at HOST:PORT instead of the local cluster', env: 'DYN_HOST'}),
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
    dir: dirFlag,
    ...tlsFlags,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ClusterCommit)
    const target = await resolveTarget(flags)
    const document = await commit({dir: flags.dir, cluster: target.cluster, ...(flags.host === undefined ? {} : {addresses: target.seeds})})
    if (!this.jsonEnabled()) {
      this.log(planText(document, {color: process.stdout.isTTY === true}))
      this.log('Ownership handoff runs in the background; `dyn cluster status` shows its progress.')
    }
    return {...document, version: jsonShapeVersion}
  }
}
