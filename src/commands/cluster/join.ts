import {Flags} from '@oclif/core'
import {dirFlag, tlsFlags} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseAddress} from '../../client/index.js'
import {join, stageJoin} from '../../cluster/membership.js'
import {resolveTarget} from '../../cluster/target.js'
import {DynError, exitCodes} from '../../core/errors.js'
import {nodeWeightMax} from '../../core/ring.js'
import {jsonShapeVersion} from '../../render/json.js'

class JoinNameRequiredError extends DynError {
  constructor() {
    super('with --host, cluster join stages a node that already runs elsewhere, and needs its --name', {
      code: 'USAGE',
      exitCode: exitCodes.usage,
      suggestion: 'start the node with seeds first (docs/deploy.md), then: dyn cluster join --host HOST:PORT --name NAME',
    })
  }
}

export default class ClusterJoin extends BaseCommand {
  static override description =
    'Start a new node next to the local cluster (the next name and ports, the running nodes as its seeds), wait until it is healthy, and stage its join. ' +
    'With --host, stage the join of a node that already runs on another host (started with seeds, so the cluster knows it as joining). ' +
    '`dyn cluster plan` shows what a commit would move'
  static override examples = [
    '<%= config.bin %> cluster join',
    '<%= config.bin %> cluster join --name n5 --weight 2 --json',
    '<%= config.bin %> cluster join --host 10.0.0.1:7001 --name n4',
    '<%= config.bin %> cluster join --host 10.0.0.1:7001 --name n4 --address 10.0.0.4:7001 --weight 2',
  ]
  static override flags = {
    name: Flags.string({description: 'name of the new node (default: n<k> after the highest; required with --host)'}),
    weight: Flags.integer({min: 1, max: nodeWeightMax, default: 1, description: `share of partitions relative to the other nodes (1..${nodeWeightMax})`}),
    host: Flags.string({description: 'stage the join of a running node through the node at HOST:PORT instead of starting one locally', env: 'DYN_HOST'}),
    address: Flags.string({description: "with --host: the joining node's HOST:PORT, when the cluster has not heard of it through its seeds", dependsOn: ['host']}),
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
    dir: dirFlag,
    ...tlsFlags,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ClusterJoin)
    if (flags.host !== undefined) return this.stageRemote(flags.host, flags)
    const result = await join({dir: flags.dir, weight: flags.weight, ...(flags.name === undefined ? {} : {name: flags.name})})
    if (!this.jsonEnabled()) {
      this.log(`${result.name} started at ${result.address} (http ${result.httpAddress}, pid ${String(result.pid)}); its join is staged (through ${result.stagedVia})`)
      this.log('Next: `dyn cluster plan` to see the partitions that would move, then `dyn cluster commit`.')
    }
    return {version: jsonShapeVersion, ...result}
  }

  private async stageRemote(host: string, flags: {name?: string | undefined; address?: string | undefined; weight: number; cluster?: string | undefined; dir: string}): Promise<unknown> {
    if (flags.name === undefined) throw new JoinNameRequiredError()
    if (flags.address !== undefined) parseAddress(flags.address)
    const target = await resolveTarget({host, dir: flags.dir, cluster: flags.cluster})
    const result = await stageJoin({
      dir: flags.dir,
      addresses: target.seeds,
      cluster: target.cluster,
      node: flags.name,
      weight: flags.weight,
      ...(flags.address === undefined ? {} : {address: flags.address}),
    })
    if (!this.jsonEnabled()) this.log(`join of ${flags.name} staged (through ${result.stagedVia}). Next: \`dyn cluster plan --host ${host}\`, then \`dyn cluster commit --host ${host}\`.`)
    return {version: jsonShapeVersion, name: flags.name, weight: flags.weight, ...result}
  }
}
