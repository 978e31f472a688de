// Fault injection on a running node (DESIGN §8: `dyn cluster partition` / `heal`). The
// admin.faults message names the peers this node stops hearing, in both directions; the
// shell's FaultControl port does the cutting (the daemon drops the frames of those peers in
// its transport and its server, as on a cut link), so the node code above it sees nothing
// but timeouts, exactly as in a real network partition. An empty list heals.
//
// The message replaces the whole cut: each node of a partitioned cluster is told the names
// on the other side of the cut, and `heal` tells every node an empty list.
import {DynError, exitCodes} from '../core/errors.js'
import type {AdminFaultsRequest, AdminResponse} from '../core/protocol.js'
import type {FaultControl, MetaStore} from './ports.js'

/** Version of the admin.faults answer's JSON (docs/cli.md, `dyn cluster partition`). */
export const faultsShapeVersion = 1

export class FaultInjectionUnsupportedError extends DynError {
  constructor(node: string) {
    super(`node ${node} does not support fault injection`, {
      code: 'UNSUPPORTED',
      exitCode: exitCodes.error,
      suggestion: 'run the node with `dyn node start` (the daemon supports admin.faults)',
    })
  }
}

export class FaultTargetError extends DynError {
  constructor(options: {node: string; problem: string; members: readonly string[]}) {
    super(`node ${options.node} cannot cut ${options.problem} (members: ${options.members.join(', ')})`, {
      code: 'BAD_REQUEST',
      exitCode: exitCodes.usage,
      suggestion: 'name only other members of the cluster',
    })
  }
}

export interface FaultsOptions {
  readonly self: string
  /** Absent where the shell cannot inject faults. */
  readonly control: FaultControl | undefined
  /** The current members' names. */
  readonly members: () => readonly string[]
  /** Where the cut is kept across restarts (document 'faults'); absent: in memory only. */
  readonly meta?: MetaStore
}

/** The MetaStore document holding the current cut. */
export const faultsDocument = 'faults'

export class Faults {
  /** The nodes currently cut off, sorted; invariant: members other than self. */
  private cutNodes: readonly string[] = []

  constructor(private readonly options: FaultsOptions) {}

  get cut(): readonly string[] {
    return this.cutNodes
  }

  readonly handlers = {
    'admin.faults': async (request: AdminFaultsRequest): Promise<AdminResponse> => {
      this.apply(request.cut)
      await this.save()
      return {ok: true, json: JSON.stringify({version: faultsShapeVersion, name: this.options.self, cut: this.cutNodes})}
    },
  }

  /** Restores the cut kept by the last admin.faults before a restart: a node partitioned
   * by `dyn cluster partition` stays cut off until `heal`, restarted or not. Names that are
   * no longer members are dropped. Call after the membership view is loaded. */
  async load(): Promise<void> {
    const bytes = await this.options.meta?.read(faultsDocument)
    if (bytes === undefined || this.options.control === undefined) return
    const saved = (JSON.parse(new TextDecoder().decode(bytes)) as {cut?: unknown}).cut
    if (!Array.isArray(saved)) return
    const members = new Set(this.options.members())
    const cut = saved.filter((name): name is string => typeof name === 'string' && name !== this.options.self && members.has(name))
    if (cut.length > 0) this.apply(cut)
  }

  private async save(): Promise<void> {
    await this.options.meta?.write(faultsDocument, new TextEncoder().encode(JSON.stringify({version: faultsShapeVersion, cut: this.cutNodes})))
  }

  /** Replaces the cut; throws a usage error for self or non-members and changes nothing then. */
  apply(nodes: readonly string[]): void {
    const {self, control} = this.options
    if (control === undefined) throw new FaultInjectionUnsupportedError(self)
    const members = this.options.members()
    const known = new Set(members)
    if (nodes.includes(self)) throw new FaultTargetError({node: self, problem: 'itself', members})
    const strangers = nodes.filter((node) => !known.has(node))
    if (strangers.length > 0) throw new FaultTargetError({node: self, problem: `non-members ${strangers.join(', ')}`, members})
    const cut = [...new Set(nodes)].sort()
    control.cut(cut)
    this.cutNodes = cut
  }
}
