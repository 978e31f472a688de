import {Flags} from '@oclif/core'
import {dirFlag} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {join} from '../../cluster/index.js'
import {nodeWeightMax} from '../../core/ring.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterJoin extends BaseCommand {
  static override description =
    'Start a new node next to the local cluster (the next name and ports, the running nodes as its seeds), wait until it is healthy, and stage its join; `dyn cluster plan` shows what a commit would move'
  static override examples = ['<%= config.bin %> cluster join', '<%= config.bin %> cluster join --name n5 --weight 2 --json']
  static override flags = {
    name: Flags.string({description: 'name of the new node (default: n<k> after the highest)'}),
    weight: Flags.integer({min: 1, max: nodeWeightMax, default: 1, description: `share of partitions relative to the other nodes (1..${nodeWeightMax})`}),
    dir: dirFlag,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ClusterJoin)
    const result = await join({dir: flags.dir, weight: flags.weight, ...(flags.name === undefined ? {} : {name: flags.name})})
    if (!this.jsonEnabled()) {
      this.log(`${result.name} started at ${result.address} (http ${result.httpAddress}, pid ${String(result.pid)}); its join is staged (through ${result.stagedVia})`)
      this.log('Next: `dyn cluster plan` to see the partitions that would move, then `dyn cluster commit`.')
    }
    return {version: jsonShapeVersion, ...result}
  }
}
