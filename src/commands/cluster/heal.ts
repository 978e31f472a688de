import {dirFlag} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {heal} from '../../cluster/faults.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterHeal extends BaseCommand {
  static override description = 'Restore every link cut by `dyn cluster partition`: each running node hears every node again'
  static override examples = ['<%= config.bin %> cluster heal', '<%= config.bin %> cluster heal --dir /tmp/dyn --json']
  static override flags = {
    dir: dirFlag,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ClusterHeal)
    const result = await heal({dir: flags.dir})
    if (!this.jsonEnabled()) {
      for (const node of result.nodes) this.log(`${node.name}: ${node.outcome === 'applied' ? 'healed' : 'not running (skipped)'}`)
    }
    return {version: jsonShapeVersion, dir: result.dir, nodes: result.nodes}
  }
}
