// etcd under test: a 3-member cluster of Debian's `etcd` (etcd-server) with its default,
// durable settings (a put is acknowledged after a Raft commit, which fsyncs the WAL on the
// leader and on a majority of members), driven over etcd's gRPC API with the `etcd3` npm
// client (on @grpc/grpc-js). Reads are etcd's default, linearizable ranges (a read-index
// round through the leader), the read a client gets without asking for less.
import {execFile} from 'node:child_process'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import type {Target} from './load.js'
import {loopback, type ProcessGroup} from './processes.js'

export const etcdMembers = 3

/** Ports one member uses: peer (Raft) and client (gRPC and /health). */
export const etcdPortsPerMember = 2

/** Per-request deadline of the client: a put that waits longer than this on a local
 * cluster is a failure to count, not a latency to average. */
const etcdRequestTimeoutMs = 10_000

export const etcdPeer = {binary: 'etcd', packages: ['etcd-server', 'etcd-client']} as const

/** `etcd --version`'s first line, e.g. "etcd Version: 3.4.23". */
export function etcdVersion(binary: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], (error, stdout) => resolve(error === null ? (stdout.split('\n')[0] ?? '').trim() : 'unknown'))
  })
}

/** Starts the members, waits until each reports healthy (a leader is elected), connects a
 * client per member. `ports` holds etcdPortsPerMember × etcdMembers free ports. */
export async function startEtcd(options: {binary: string; dir: string; ports: readonly number[]; processes: ProcessGroup}): Promise<Target> {
  const {binary, dir, ports, processes} = options
  if (ports.length < etcdMembers * etcdPortsPerMember) throw new Error(`startEtcd needs ${etcdMembers * etcdPortsPerMember} ports, got ${ports.length}`)
  const members = Array.from({length: etcdMembers}, (_, i) => ({
    name: `e${i + 1}`,
    peerUrl: `http://${loopback}:${ports[i * etcdPortsPerMember]!}`,
    clientUrl: `http://${loopback}:${ports[i * etcdPortsPerMember + 1]!}`,
  }))
  const initialCluster = members.map((member) => `${member.name}=${member.peerUrl}`).join(',')
  const started = members.map((member) => ({
    member,
    child: processes.spawn(
      binary,
      [
        '--name', member.name,
        '--data-dir', join(dir, member.name),
        '--listen-peer-urls', member.peerUrl,
        '--initial-advertise-peer-urls', member.peerUrl,
        '--listen-client-urls', member.clientUrl,
        '--advertise-client-urls', member.clientUrl,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', 'dyn-bench',
      ],
      join(dir, `${member.name}.log`),
    ),
  }))
  for (const {member, child} of started) {
    await processes.waitReady(child, async () => (await fetch(`${member.clientUrl}/health`)).ok, `etcd member ${member.name}`)
  }
  // One client per member, and worker w talks to member w mod 3: the same spread as dyn's
  // clients over its nodes. Puts that land on a follower are forwarded to the leader by
  // etcd itself, as they would be in a deployment.
  const clients = members.map(
    (member) => new Etcd3({hosts: member.clientUrl, defaultCallOptions: () => ({deadline: Date.now() + etcdRequestTimeoutMs})}),
  )
  const clientFor = (worker: number): Etcd3 => clients[worker % clients.length]!
  return {
    system: 'etcd',
    put: async (worker, key, value) => {
      await clientFor(worker).put(key).value(Buffer.from(value.buffer, value.byteOffset, value.byteLength))
    },
    get: async (worker, key) => (await clientFor(worker).get(key).buffer()) !== null,
    close: async () => {
      for (const client of clients) client.close()
    },
  }
}
