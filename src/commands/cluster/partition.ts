import {dirFlag} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseGroups, partition, PartitionGroupsError, type FaultsResult} from '../../cluster/faults.js'
import {jsonShapeVersion} from '../../render/json.js'

export default class ClusterPartition extends BaseCommand {
  static override description =
    'Cut the links between groups of nodes (fault injection): groups separated by spaces, members by commas; the nodes named in no group form one more group. ' +
    'Each running node drops all traffic with the nodes outside its group, both ways; clients still reach every node. Undo with `dyn cluster heal`'
  static override examples = [
    '<%= config.bin %> cluster partition n1,n2 n3',
    '<%= config.bin %> cluster partition n1          # n1 alone, the others together',
    '<%= config.bin %> cluster partition n1,n2 n3,n4 n5 --json',
  ]
  static override strict = false
  static override usage = 'cluster partition GROUP [GROUP...]'
  static override flags = {
    dir: dirFlag,
  }

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(ClusterPartition)
    const groups = parseGroups(argv.map(String))
    if (groups.length === 0) throw new PartitionGroupsError('no group given')
    const result = await partition({dir: flags.dir, groups})
    if (!this.jsonEnabled()) this.log(describeFaults(result))
    return {version: jsonShapeVersion, ...result}
  }
}

/** One line for the groups, one per node. */
function describeFaults(result: FaultsResult): string {
  const lines = [`groups: ${result.groups.map((group) => group.join(',')).join(' | ')}`]
  for (const node of result.nodes) {
    if (node.outcome === 'notRunning') lines.push(`${node.name}: not running (skipped; its peers still drop its traffic)`)
    else lines.push(node.cut.length === 0 ? `${node.name}: hears every node` : `${node.name}: cut from ${node.cut.join(', ')}`)
  }
  return lines.join('\n')
}
