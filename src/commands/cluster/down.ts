import {dirFlag} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {describeOutcome, down} from '../../cluster/status.js'
import {clusterDownJson} from '../../render/index.js'

export default class ClusterDown extends BaseCommand {
  static override description = 'Stop every node of the local cluster (SIGTERM, then SIGKILL after a grace period); data stays in the directory'
  static override examples = ['<%= config.bin %> cluster down', '<%= config.bin %> cluster down --dir /tmp/dyn']
  static override flags = {
    dir: dirFlag,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ClusterDown)
    const result = await down({dir: flags.dir})
    if (!this.jsonEnabled()) {
      for (const node of result.nodes) this.log(`${node.name}${node.pid === null ? '' : ` (pid ${node.pid})`}: ${describeOutcome(node.outcome)}`)
    }
    return clusterDownJson(result)
  }
}
