import {Args, Flags} from '@oclif/core'
import {dirFlag} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {startNode} from '../../cluster/lifecycle.js'
import {upTimeoutMsDefault} from '../../cluster/up.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterStart extends BaseCommand {
  static override description =
    'Start one node of the local cluster again from its node.json, as `dyn cluster up` does, and wait until it answers /health; a running node is left alone'
  static override examples = ['<%= config.bin %> cluster start n2', '<%= config.bin %> cluster start n2 --dir /tmp/dyn --json']
  static override args = {
    node: Args.string({required: true, description: 'the node to start (n1, n2...)'}),
  }
  static override flags = {
    'timeout-ms': Flags.integer({min: 1, default: upTimeoutMsDefault, description: 'how long to wait for /health before giving up (the node is then killed)'}),
    dir: dirFlag,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ClusterStart)
    const result = await startNode({dir: flags.dir, node: args.node, timeoutMs: flags['timeout-ms']})
    if (!this.jsonEnabled()) {
      this.log(
        result.outcome === 'started'
          ? `${result.name} (pid ${result.pid}): started, healthy after ${result.elapsedMs} ms (wire ${result.address}, http ${result.httpAddress})`
          : `${result.name} (pid ${result.pid}): already running`,
      )
    }
    return {version: jsonShapeVersion, ...result}
  }
}
