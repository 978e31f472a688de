import {dirFlag} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {clusterMembership, clusterStatus, membershipText} from '../../cluster/index.js'
import {clusterStatusJson, statusTable} from '../../render/index.js'

export default class ClusterStatus extends BaseCommand {
  static override description =
    'Show each node of the local cluster (address, HTTP address, pid, state: running, unhealthy or stopped), the members with their status (joining, valid, leaving, left) and the ownership handoffs in progress'
  static override examples = ['<%= config.bin %> cluster status', '<%= config.bin %> cluster status --dir /tmp/dyn --json']
  static override flags = {
    dir: dirFlag,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ClusterStatus)
    const [status, membership] = await Promise.all([clusterStatus(flags.dir), clusterMembership(flags.dir)])
    if (!this.jsonEnabled()) {
      const color = process.stdout.isTTY === true
      this.log(statusTable(status, {color}))
      this.log(membershipText(membership, {color}))
    }
    return {...clusterStatusJson(status), membership}
  }
}
