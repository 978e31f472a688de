import {dirFlag} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {clusterStatus} from '../../cluster/index.js'
import {clusterStatusJson, statusTable} from '../../render/index.js'

export default class ClusterStatus extends BaseCommand {
  static override description = "Show each node of the local cluster: address, HTTP address, pid and state (running, unhealthy or stopped)"
  static override examples = ['<%= config.bin %> cluster status', '<%= config.bin %> cluster status --dir /tmp/dyn --json']
  static override flags = {
    dir: dirFlag,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ClusterStatus)
    const status = await clusterStatus(flags.dir)
    if (!this.jsonEnabled()) this.log(statusTable(status, {color: process.stdout.isTTY === true}))
    return clusterStatusJson(status)
  }
}
