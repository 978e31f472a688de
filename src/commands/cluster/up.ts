import {Flags} from '@oclif/core'
import {dirFlag, rangeFlag} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {basePortMin, httpPortOffset, localNodesMax, up, upDefaults, type UpEvent} from '../../cluster/up.js'
import {unreachable} from '../../core/errors.js'
import {partitionCountMax, partitionCountMin} from '../../core/ring.js'
import {clusterStatusJson, statusTable} from '../../render/index.js'

const portMax = 65_535

export default class ClusterUp extends BaseCommand {
  static override description = 'Start a local cluster: write its directory, start each node as a background process and wait until all are healthy'
  static override examples = ['<%= config.bin %> cluster up', '<%= config.bin %> cluster up --nodes 5 --n 3 --r 2 --w 2 --dir /tmp/dyn --base-port 9001']
  static override flags = {
    nodes: rangeFlag({min: 1, max: localNodesMax, default: upDefaults.nodes, description: 'number of nodes'}),
    n: rangeFlag({min: 1, max: localNodesMax, default: upDefaults.n, description: 'replicas per key, at most --nodes'}),
    r: rangeFlag({min: 1, max: localNodesMax, default: upDefaults.r, description: 'default read quorum, at most --n'}),
    w: rangeFlag({min: 1, max: localNodesMax, default: upDefaults.w, description: 'default write quorum, at most --n'}),
    partitions: rangeFlag({min: partitionCountMin, max: partitionCountMax, default: upDefaults.partitions, description: 'partitions Q, a power of two'}),
    'base-port': rangeFlag({
      min: basePortMin,
      max: portMax - httpPortOffset - 1,
      default: upDefaults.basePort,
      description: `wire port of n1; node i gets BASE+i-1 and HTTP port BASE+${httpPortOffset}+i-1`,
    }),
    sync: Flags.string({default: upDefaults.sync, description: 'durability of writes: always, interval:MS or none'}),
    cluster: Flags.string({default: upDefaults.cluster, description: 'cluster name', env: 'DYN_CLUSTER'}),
    dir: dirFlag,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ClusterUp)
    const result = await up({
      dir: flags.dir,
      nodes: flags.nodes,
      n: flags.n,
      r: flags.r,
      w: flags.w,
      partitions: flags.partitions,
      basePort: flags['base-port'],
      sync: flags.sync,
      cluster: flags.cluster,
      ...progressPrinter(),
    })
    if (!this.jsonEnabled()) {
      if (result.restarted) this.log(`started the existing cluster again with its recorded settings (${result.dir})`)
      this.log(statusTable(result, {color: process.stdout.isTTY === true}))
      this.log(`N=${result.n} R=${result.r} W=${result.w}, Q=${result.partitions}. Stop it with: dyn cluster down --dir ${result.dir}`)
    }
    return {...clusterStatusJson(result), restarted: result.restarted}
  }
}

/** Progress lines on a terminal; nothing when stderr is piped (DESIGN §8). */
function progressPrinter(): {onProgress?: (event: UpEvent) => void} {
  if (process.stderr.isTTY !== true) return {}
  return {onProgress: (event) => {
    switch (event.kind) {
      case 'spawned':
        process.stderr.write(`started ${event.node} (pid ${event.pid})\n`)
        return
      case 'healthy':
        process.stderr.write(`${event.node} is healthy (${event.ready}/${event.total})\n`)
        return
      default:
        return unreachable(event)
    }
  }}
}
