import {Args} from '@oclif/core'
import {dirFlag} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {killNode} from '../../cluster/lifecycle.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterKill extends BaseCommand {
  static override description =
    'Crash one node of the local cluster with SIGKILL: no graceful close, so writes its sync mode had not made durable may be lost. Start it again with `dyn cluster start`'
  static override examples = ['<%= config.bin %> cluster kill n2', '<%= config.bin %> cluster kill n2 --dir /tmp/dyn --json']
  static override args = {
    node: Args.string({required: true, description: 'the node to kill (n1, n2...)'}),
  }
  static override flags = {
    dir: dirFlag,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ClusterKill)
    const result = await killNode({dir: flags.dir, node: args.node})
    if (!this.jsonEnabled()) {
      this.log(result.outcome === 'killed' ? `${result.name} (pid ${String(result.pid)}): killed` : `${result.name}: was not running`)
    }
    return {version: jsonShapeVersion, ...result}
  }
}
