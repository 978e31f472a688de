import {Args, Flags} from '@oclif/core'
import {targetFlags} from '../cli/flags.js'
import {KvCommand} from '../cli/kv-command.js'
import {DynClient} from '../client/index.js'
import {resolveTarget} from '../cluster/target.js'
import {DynError, exitCodes} from '../core/errors.js'
import type {SiblingView} from '../core/protocol.js'
import {resolveHeader, resolveJson, resolveText, type ResolveInput} from '../render/index.js'
import {cannotAsk, needsChoiceError, resolutionFromFlags, type Resolution, type ResolveFlags} from '../shell/resolution.js'

class NothingToResolveError extends DynError {
  constructor(key: string) {
    super(`key ${key}: not found, nothing to resolve`, {code: 'NOT_FOUND', exitCode: exitCodes.notFound, suggestion: `check the key's name; dyn conflicts lists the keys that have siblings`})
  }
}

export default class Resolve extends KvCommand {
  static override summary = 'Replace the siblings of a key by one value: pick one of them or write a merged one'

  static override description =
    'Reads the key, then writes the chosen value with the context of that read, which covers every sibling, so the ' +
    'write replaces them all; then reads the key again and shows its state. On a terminal it asks which value to keep. ' +
    'Without a terminal (or with --json) the choice must be given with --pick, --value or --file; otherwise it exits 2 ' +
    'without waiting for input. A key with one value is left alone (exit 0); a missing key exits 4.'

  static override examples = [
    '<%= config.bin %> resolve cart',
    '<%= config.bin %> resolve cart --pick 2',
    '<%= config.bin %> resolve cart --value apple,pear --json',
    '<%= config.bin %> resolve photo --file merged.jpg --w 3',
  ]

  static override args = {key: Args.string({required: true, description: 'the key (UTF-8)'})}

  static override flags = {
    pick: Flags.integer({min: 1, description: 'keep sibling N (numbered as `dyn get` lists them)', exclusive: ['value', 'file']}),
    value: Flags.string({description: 'write this merged value (UTF-8)', exclusive: ['pick', 'file']}),
    file: Flags.string({description: 'write the merged value in this file', exclusive: ['pick', 'value']}),
    r: Flags.integer({min: 1, description: 'replicas that must answer the reads (1..N; default: the cluster R)'}),
    w: Flags.integer({min: 1, description: 'replicas that must acknowledge the write (1..N; default: the cluster W)'}),
    ...targetFlags('send to'),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Resolve)
    const color = process.stdout.isTTY === true
    const client = new DynClient(await resolveTarget(flags))
    try {
      const read = await client.get(args.key, flags.r === undefined ? {} : {r: flags.r})
      if (!read.found) throw new NothingToResolveError(args.key)
      const before = {siblings: read.siblings, context: read.context}
      const header = resolveHeader({key: args.key, before}, {color})
      if (read.siblings.length === 1) {
        if (!this.jsonEnabled()) this.log(`${header}\n${resolveText({key: args.key, before}, {color})}`)
        return resolveJson({key: args.key, before})
      }
      const resolution = await this.choose(args.key, read.siblings, flags, header)
      const written = await client.put(args.key, resolution.value, {context: read.context, ...(flags.w === undefined ? {} : {w: flags.w})})
      const after = await client.get(args.key, flags.r === undefined ? {} : {r: flags.r})
      const input: ResolveInput = {
        key: args.key,
        before,
        choice: resolution.kind === 'pick' ? {kind: 'pick', index: resolution.index, dot: resolution.dot} : {kind: 'value', source: resolution.source},
        write: {value: resolution.value, context: written.context, dot: written.dot, siblings: written.siblings, quorum: written.quorum},
        after: {found: after.found, siblings: after.siblings, context: after.context},
      }
      if (!this.jsonEnabled()) this.log(resolveText(input, {color}))
      return resolveJson(input)
    } finally {
      await client.close()
    }
  }

  /** From the flags, else asked on a terminal (the siblings shown first), else a usage error. */
  private async choose(key: string, siblings: readonly SiblingView[], flags: ResolveFlags, header: string): Promise<Resolution> {
    const fromFlags = await resolutionFromFlags(siblings, flags)
    if (!this.jsonEnabled()) this.log(header)
    if (fromFlags !== undefined) return fromFlags
    const reason = cannotAsk({stdinTTY: process.stdin.isTTY === true, stdoutTTY: process.stdout.isTTY === true, json: this.jsonEnabled()})
    if (reason !== undefined) throw needsChoiceError(reason)
    // The prompt library loads only when a question is asked: scripts never pay for it.
    const {askResolution} = await import('../shell/resolve.js')
    return askResolution(key, siblings)
  }
}
