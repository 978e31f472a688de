// `dyn conflicts`: the keys that currently hold more than one sibling (DESIGN §3: concurrent
// writes become siblings), so nobody has to guess where to run `dyn resolve KEY`.
//
// Each node lists its own copies (kv.conflicts, src/node/conflicts.ts): at most K keys after
// a cursor, in key byte order. Asked together, the nodes' pages merge into one page of the
// cluster: the K smallest keys of the union. That page is exact: a key among the K smallest
// of the union is, on every node that holds it in conflict, among that node's K smallest,
// so each listed key comes with every node that reported it. The next page starts after the
// page's last key; there may be more when the union was cut or any node had more.
import {resolve as resolvePath} from 'node:path'
import {Buffer} from 'node:buffer'
import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {dirFlag, targetFlags} from '../cli/flags.js'
import {DynClient, type ConflictsResult} from '../client/index.js'
import {UnknownClusterNodeError} from '../cluster/errors.js'
import {addressOf, readClusterFile} from '../cluster/layout.js'
import {resolveTarget} from '../cluster/target.js'
import {DynError, exitCodes} from '../core/errors.js'
import {checkKey, keyBytesMax} from '../core/limits.js'
import {conflictsPageMax, type ConflictView, type NodeAddress} from '../core/protocol.js'
import {
  conflictsJson,
  conflictsText,
  conflictsWarnings,
  displayValue,
  type ConflictListing,
  type ConflictsTextHints,
  type ConflictListingEntry,
  type UnansweredNode,
} from '../render/index.js'
import {quoteWord} from '../shell/index.js'

/** Keys per page unless --limit says otherwise: about a screenful of table rows. */
export const conflictsLimitDefault = 50

export class CursorError extends DynError {
  constructor(cursor: string) {
    super(`cursor ${JSON.stringify(cursor)} is not one that dyn conflicts printed`, {
      code: 'CURSOR_INVALID',
      exitCode: exitCodes.usage,
      suggestion: 'copy the --cursor of the "next page" line (or the JSON "next") exactly, or start again without --cursor',
    })
  }
}

export class NoConflictListingError extends DynError {
  constructor(unanswered: readonly UnansweredNode[]) {
    const listed = unanswered.map((entry) => `${entry.node} (${entry.address}): ${entry.message}`).join('; ')
    super(`no node answered, so no conflicts can be listed (${listed})`, {
      code: 'NO_NODE_REACHABLE',
      exitCode: exitCodes.error,
      suggestion: 'check that the cluster is running (`dyn cluster status`) or give a reachable node with --host HOST:PORT',
    })
  }
}

/** The cursor after `key`: its bytes as base64url, safe in a shell and for any key. */
export function encodeCursor(key: Uint8Array): string {
  return Buffer.from(key).toString('base64url')
}

export function decodeCursor(cursor: string): Uint8Array {
  const key = Buffer.from(cursor, 'base64url')
  // base64url decoding skips what it cannot read; only a token that round-trips is ours.
  if (key.length === 0 || key.length > keyBytesMax || key.toString('base64url') !== cursor) throw new CursorError(cursor)
  return new Uint8Array(key)
}

export interface NodePage {
  readonly node: string
  readonly keys: readonly ConflictView[]
  readonly more: boolean
}

/** The K smallest keys of the union of the nodes' pages, each with every node that listed
 * it (see the top of this file for why that is exact). */
export function mergeConflictPages(pages: readonly NodePage[], limit: number): {keys: ConflictListingEntry[]; more: boolean} {
  const byKey = new Map<string, {key: Uint8Array; reports: ConflictListingEntry['reports'][number][]}>()
  for (const page of pages) {
    for (const view of page.keys) {
      const name = Buffer.from(view.key).toString('latin1')
      const entry = byKey.get(name) ?? {key: view.key, reports: []}
      entry.reports.push({node: page.node, partition: view.partition, siblings: view.siblings, dots: view.dots})
      byKey.set(name, entry)
    }
  }
  const union = [...byKey.values()].sort((a, b) => Buffer.compare(a.key, b.key))
  const keys = union.slice(0, limit).map((entry) => ({key: entry.key, reports: [...entry.reports].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))}))
  return {keys, more: union.length > limit || pages.some((page) => page.more)}
}

export default class Conflicts extends BaseCommand {
  static override summary = 'List the keys that hold more than one sibling (concurrent writes), a page at a time'

  static override description =
    'Asks every node of the local cluster (--dir), or every member of the cluster of --host, which keys its copies ' +
    'hold with more than one sibling (a delete beside a value counts; tombstones only do not), and merges the answers: ' +
    'each key once, with its sibling count and dots on each node. --node NAME lists one node only. Pages are in key ' +
    'byte order; the last line prints the command for the next page. A node that does not answer is a warning, not a ' +
    'failure, unless none answers (exit 1). Exits 0 whether or not there are conflicts.'

  static override examples = [
    '<%= config.bin %> conflicts',
    '<%= config.bin %> conflicts --node n2 --limit 10',
    '<%= config.bin %> conflicts --limit 100 --cursor dXNlcjo0Mg --json',
    '<%= config.bin %> conflicts --host 10.0.0.5:7001 --cluster prod',
  ]

  static override flags = {
    limit: Flags.integer({min: 1, max: conflictsPageMax, default: conflictsLimitDefault, description: `keys per page (1..${conflictsPageMax})`}),
    after: Flags.string({description: 'list the keys after this key (UTF-8)', exclusive: ['cursor']}),
    cursor: Flags.string({description: 'continue where a previous page ended (its "next page" line or JSON "next")', exclusive: ['after']}),
    ...targetFlags('ask'),
    host: Flags.string({description: 'ask every member that the node at HOST:PORT knows (any node of a cluster beyond this machine)', env: 'DYN_HOST'}),
    // Not exclusive with --host: with it, NAME is a member of the cluster --host belongs to.
    node: Flags.string({description: "list only this node's copies: a node of the local cluster, or with --host a member of that cluster"}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Conflicts)
    const after = flags.cursor === undefined ? afterKey(flags.after) : decodeCursor(flags.cursor)
    const {client, members} = await this.connect(flags)
    try {
      const listing = await listConflicts(client, members, {after, limit: flags.limit})
      if (!this.jsonEnabled()) {
        for (const line of conflictsWarnings(listing)) process.stderr.write(`${line}\n`)
        this.log(conflictsText(listing, this.hints(flags, listing), {color: process.stdout.isTTY === true}))
      }
      return conflictsJson(listing)
    } finally {
      await client.close()
    }
  }

  /** The client and the nodes to ask: the local cluster's nodes, or the members that the
   * node at --host knows; one of them with --node. */
  private async connect(flags: {host?: string | undefined; node?: string | undefined; dir: string; cluster?: string | undefined}): Promise<{client: DynClient; members: NodeAddress[]}> {
    if (flags.host !== undefined) {
      const target = await resolveTarget({dir: flags.dir, host: flags.host, cluster: flags.cluster})
      const client = new DynClient(target)
      try {
        return {client, members: only((await client.ring()).nodes, flags.node)}
      } catch (error) {
        await client.close()
        throw error
      }
    }
    const file = await readClusterFile(resolvePath(flags.dir))
    const client = new DynClient({seeds: [], cluster: flags.cluster ?? file.cluster, routing: 'direct'})
    return {client, members: only(file.nodes.map((node) => ({name: node.name, address: addressOf(node)})), flags.node)}
  }

  private hints(
    flags: {
      host?: string | undefined
      node?: string | undefined
      dir: string
      cluster?: string | undefined
      limit: number
      cursor?: string | undefined
      after?: string | undefined
      'tls-ca'?: string | undefined
      'tls-cert'?: string | undefined
      'tls-key'?: string | undefined
    },
    listing: ConflictListing,
  ): ConflictsTextHints {
    const bin = this.config.bin
    const target = [
      ...(flags.dir === dirFlag.default ? [] : ['--dir', quoteWord(flags.dir)]),
      ...(flags.host === undefined ? [] : ['--host', quoteWord(flags.host)]),
      ...(flags.cluster === undefined ? [] : ['--cluster', quoteWord(flags.cluster)]),
      // The commands it suggests must reach the nodes the same way.
      ...(['tls-ca', 'tls-cert', 'tls-key'] as const).flatMap((name) => (flags[name] === undefined ? [] : [`--${name}`, quoteWord(flags[name])])),
    ]
    const node = flags.node === undefined ? [] : ['--node', quoteWord(flags.node)]
    const typed = listing.keys.map((entry) => displayValue(entry.key)).find((shown) => shown.kind === 'text' && !/[\t\n\r]/.test(shown.text))
    return {
      continued: flags.cursor !== undefined || flags.after !== undefined,
      ...(listing.next === undefined ? {} : {nextCommand: [bin, 'conflicts', ...target, ...node, '--limit', String(flags.limit), '--cursor', listing.next].join(' ')}),
      ...(typed?.kind === 'text' ? {resolveCommand: [bin, 'resolve', quoteWord(typed.text), ...target].join(' ')} : {}),
    }
  }
}

function afterKey(after: string | undefined): Uint8Array | undefined {
  if (after === undefined) return undefined
  const key = new Uint8Array(Buffer.from(after, 'utf8'))
  checkKey(key)
  return key
}

function only(members: readonly NodeAddress[], node: string | undefined): NodeAddress[] {
  if (node === undefined) return [...members]
  const member = members.find((entry) => entry.name === node)
  if (member === undefined) throw new UnknownClusterNodeError(node, members.map((entry) => entry.name))
  return [member]
}

/** Asks every member at once; a member that gives no page is listed as unreachable. */
export async function listConflicts(
  client: DynClient,
  members: readonly NodeAddress[],
  page: {readonly after: Uint8Array | undefined; readonly limit: number},
): Promise<ConflictListing> {
  const request = {limit: page.limit, ...(page.after === undefined ? {} : {after: page.after})}
  const settled = await Promise.allSettled(members.map((member) => client.conflicts(member.address, request)))
  const pages: NodePage[] = []
  const unreachable: UnansweredNode[] = []
  settled.forEach((outcome, index) => {
    const member = members[index]!
    if (outcome.status === 'fulfilled') pages.push(pageOf(member, outcome.value))
    else unreachable.push(unanswered(member, outcome.reason))
  })
  if (pages.length === 0) throw new NoConflictListingError(unreachable)
  const merged = mergeConflictPages(pages, page.limit)
  const last = merged.keys.at(-1)
  return {
    keys: merged.keys,
    asked: members.map((member) => member.name),
    unreachable,
    limit: page.limit,
    more: merged.more,
    ...(merged.more && last !== undefined ? {next: encodeCursor(last.key)} : {}),
  }
}

/** Reports carry the member's name as the cluster lists it (the node says its own too). */
function pageOf(member: NodeAddress, result: ConflictsResult): NodePage {
  return {node: member.name, keys: result.keys, more: result.more}
}

function unanswered(member: NodeAddress, error: unknown): UnansweredNode {
  const code = error instanceof DynError ? error.code : 'ERROR'
  return {node: member.name, address: member.address, code, message: error instanceof Error ? error.message : String(error)}
}
