// `dyn merkle diff A B`: which partitions, tree segments and keys two replicas disagree on
// (DESIGN §5, §8). The comparison itself is src/client/merkle.ts; this parses, resolves
// the two nodes and renders.
import {Buffer} from 'node:buffer'
import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {dirFlag, tlsFlags} from '../../cli/flags.js'
import {DynClient, parseAddress, type RingInfo} from '../../client/index.js'
import {diffReplicas, sharedPartitions, type KeyDifferenceEntry, type ReplicaAddress, type ReplicaDiff} from '../../client/merkle.js'
import {UnknownClusterNodeError} from '../../cluster/errors.js'
import {resolveTarget} from '../../cluster/target.js'
import {DynError, exitCodes} from '../../core/errors.js'
import {displayValue, jsonShapeVersion} from '../../render/index.js'

/** Keys listed per partition in the text output; --json lists them all. */
const keysShownPerPartition = 20

export default class MerkleDiff extends BaseCommand {
  static override summary = "Compare two replicas' Merkle trees: the partitions, segments and keys that differ"

  static override description =
    'A and B are node names of the local cluster (--dir) or HOST:PORT addresses. Compares the partitions both nodes ' +
    'replicate (or --partition P), descending only into differing branches. Exits 0 whether or not the replicas ' +
    'differ (the count is in the output); with --fail-on-difference it exits 1 when they differ.'

  static override examples = [
    '<%= config.bin %> merkle diff n1 n2',
    '<%= config.bin %> merkle diff n1 n3 --partition 12 --json',
    '<%= config.bin %> merkle diff 10.0.0.5:7001 10.0.0.6:7001 --cluster prod --fail-on-difference',
  ]

  static override args = {
    a: Args.string({required: true, description: 'first node: NAME or HOST:PORT'}),
    b: Args.string({required: true, description: 'second node: NAME or HOST:PORT'}),
  }

  static override flags = {
    partition: Flags.integer({min: 0, description: 'compare only this partition'}),
    'fail-on-difference': Flags.boolean({description: 'exit 1 when the replicas differ (for scripts)'}),
    dir: dirFlag,
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
    ...tlsFlags,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(MerkleDiff)
    const seed = isAddress(args.a) ? args.a : isAddress(args.b) ? args.b : undefined
    const target = await resolveTarget({dir: flags.dir, host: seed, cluster: flags.cluster})
    const client = new DynClient({...target, routing: 'direct'})
    let info: RingInfo
    try {
      info = await client.ring()
    } finally {
      await client.close()
    }
    const a = replicaOf(args.a, info)
    const b = replicaOf(args.b, info)
    const partitions = partitionsToCompare(info, a, b, flags.partition)
    const diff = await diffReplicas({cluster: target.cluster, a, b, partitions})
    if (flags['fail-on-difference'] && diff.differences > 0) process.exitCode = exitCodes.error
    if (!this.jsonEnabled()) this.log(diffText(args.a, args.b, diff))
    return diffJson(args.a, args.b, diff)
  }
}

function isAddress(text: string): boolean {
  return text.includes(':')
}

function replicaOf(given: string, info: RingInfo): ReplicaAddress {
  if (isAddress(given)) {
    parseAddress(given)
    const member = info.nodes.find((node) => node.address === given)
    return member === undefined ? {address: given} : {name: member.name, address: given}
  }
  const member = info.nodes.find((node) => node.name === given)
  if (member === undefined) throw new UnknownClusterNodeError(given, info.nodes.map((node) => node.name))
  return {name: member.name, address: member.address}
}

class PartitionOutOfRangeError extends DynError {
  constructor(partition: number, count: number) {
    super(`partition ${partition} does not exist: the ring has ${count} (0..${count - 1})`, {
      code: 'USAGE',
      exitCode: exitCodes.usage,
      suggestion: 'see `dyn ring` for the partitions and their owners',
    })
  }
}

/** --partition, else the partitions both replicate; all of them when a node is not a
 * member the ring names (an address outside it: nothing says what it replicates). */
function partitionsToCompare(info: RingInfo, a: ReplicaAddress, b: ReplicaAddress, partition: number | undefined): number[] {
  const count = info.ring.partitionCount
  if (partition !== undefined) {
    if (partition >= count) throw new PartitionOutOfRangeError(partition, count)
    return [partition]
  }
  if (a.name === undefined || b.name === undefined) return Array.from({length: count}, (_, p) => p)
  return sharedPartitions(info.ring, info.n, a.name, b.name)
}

function hex(bytes: Uint8Array | undefined): string | null {
  return bytes === undefined ? null : Buffer.from(bytes).toString('hex')
}

function keyJson(key: Uint8Array): {key: string} | {keyBase64: string} {
  const shown = displayValue(key)
  return shown.kind === 'text' ? {key: shown.text} : {keyBase64: shown.base64}
}

function keyText(key: Uint8Array): string {
  const shown = displayValue(key)
  return shown.kind === 'text' ? shown.text : `(base64) ${shown.base64}`
}

function diffJson(a: string, b: string, diff: ReplicaDiff): unknown {
  return {
    version: jsonShapeVersion,
    a,
    b,
    compared: diff.compared.length,
    partitions: diff.partitions.map((partition) => ({
      partition: partition.partition,
      segments: partition.segments,
      keys: partition.keys.map((entry) => ({...keyJson(entry.key), a: hex(entry.a), b: hex(entry.b)})),
    })),
    differences: diff.differences,
  }
}

function describeKey(a: string, b: string, entry: KeyDifferenceEntry): string {
  if (entry.b === undefined) return `only on ${a}`
  if (entry.a === undefined) return `only on ${b}`
  return `different versions (${a} ${hex(entry.a)!.slice(0, 8)}, ${b} ${hex(entry.b)!.slice(0, 8)})`
}

function diffText(a: string, b: string, diff: ReplicaDiff): string {
  if (diff.compared.length === 0) return `${a} and ${b} replicate no partition in common: nothing to compare`
  if (diff.partitions.length === 0) return `${a} and ${b} are equal in the ${diff.compared.length} partition(s) compared`
  const lines = [`${a} and ${b} differ: ${diff.differences} key(s) in ${diff.partitions.length} of ${diff.compared.length} partition(s) compared`]
  for (const partition of diff.partitions) {
    lines.push(`partition ${partition.partition}: ${partition.segments.length} segment(s) differ (${partition.segments.join(', ')})`)
    for (const entry of partition.keys.slice(0, keysShownPerPartition)) lines.push(`  ${keyText(entry.key)}  ${describeKey(a, b, entry)}`)
    const hidden = partition.keys.length - keysShownPerPartition
    if (hidden > 0) lines.push(`  ... and ${hidden} more (--json lists them all)`)
    if (partition.keys.length === 0) lines.push('  no key differs now: a write landed between the two reads; run it again')
  }
  return lines.join('\n')
}
