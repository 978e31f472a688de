import {Args, Flags} from '@oclif/core'
import {dirFlag} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {stopNode} from '../../cluster/lifecycle.js'
import {stopGraceMsDefault} from '../../cluster/processes.js'
import {describeOutcome} from '../../cluster/status.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterStop extends BaseCommand {
  static override description =
    'Stop one node of the local cluster gracefully: SIGTERM, wait for it to finish requests in flight and close its store, SIGKILL if it has not exited after the grace period'
  static override examples = ['<%= config.bin %> cluster stop n2', '<%= config.bin %> cluster stop n2 --grace-ms 2000 --json']
  static override args = {
    node: Args.string({required: true, description: 'the node to stop (n1, n2...)'}),
  }
  static override flags = {
    'grace-ms': Flags.integer({min: 0, default: stopGraceMsDefault, description: 'how long to wait after SIGTERM before SIGKILL'}),
    dir: dirFlag,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ClusterStop)
    const result = await stopNode({dir: flags.dir, node: args.node, graceMs: flags['grace-ms']})
    if (!this.jsonEnabled()) {
      const pid = result.pid === null ? '' : ` (pid ${result.pid})`
      this.log(`${result.name}${pid}: ${describeOutcome(result.outcome)}${result.outcome === 'notRunning' ? '' : ` after ${result.elapsedMs} ms`}`)
    }
    return {version: jsonShapeVersion, ...result}
  }
}
