import {Flags} from '@oclif/core'
import {dirFlag, tlsFlags} from '../../cli/flags.js'
import {BaseCommand} from '../../cli/base-command.js'
import {clusterMembership, membershipText, remoteMembership} from '../../cluster/membership.js'
import {clusterStatus} from '../../cluster/status.js'
import {resolveTarget} from '../../cluster/target.js'
import {clusterStatusJson, jsonShapeVersion, statusTable} from '../../render/index.js'

export default class ClusterStatus extends BaseCommand {
  static override description =
    'Show each node of the local cluster (address, HTTP address, pid, state: running, unhealthy or stopped), the members with their status (joining, valid, leaving, left) and the ownership handoffs in progress. ' +
    'With --host, the members and handoffs of a cluster on other hosts, as its nodes report them'
  static override examples = ['<%= config.bin %> cluster status', '<%= config.bin %> cluster status --dir /tmp/dyn --json', '<%= config.bin %> cluster status --host 10.0.0.1:7001']
  static override flags = {
    host: Flags.string({description: 'ask the node at HOST:PORT and the members it knows instead of a local cluster', env: 'DYN_HOST'}),
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
    dir: dirFlag,
    ...tlsFlags,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ClusterStatus)
    const color = process.stdout.isTTY === true
    if (flags.host !== undefined) {
      const target = await resolveTarget(flags)
      const membership = await remoteMembership({host: flags.host, cluster: target.cluster})
      if (!this.jsonEnabled()) this.log(`cluster ${target.cluster} through ${flags.host}\n${membershipText(membership, {color})}`)
      return {version: jsonShapeVersion, host: flags.host, cluster: target.cluster, membership}
    }
    const [status, membership] = await Promise.all([clusterStatus(flags.dir), clusterMembership(flags.dir)])
    if (!this.jsonEnabled()) {
      this.log(statusTable(status, {color}))
      this.log(membershipText(membership, {color}))
    }
    return {...clusterStatusJson(status), membership}
  }
}
