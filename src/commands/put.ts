import {readFile} from 'node:fs/promises'
import {Args, Flags} from '@oclif/core'
import {writeFlags} from '../cli/flags.js'
import {KvCommand} from '../cli/kv-command.js'
import {DynClient} from '../client/index.js'
import {resolveTarget} from '../cluster/target.js'
import {DynError, exitCodes} from '../core/errors.js'
import {valueBytesMaxCeiling} from '../core/limits.js'
import {putJson, putText, readableContext} from '../render/index.js'

class ValueSourceError extends DynError {
  constructor(problem: string) {
    super(problem, {code: 'USAGE', exitCode: exitCodes.usage, suggestion: 'give the value as VALUE, as - to read standard input, or with --file PATH'})
  }
}

export default class Put extends KvCommand {
  static override description = 'Write a value. Without --context the write is blind and becomes a sibling of what is there; with the context of a read it replaces what that read saw'
  static override examples = [
    '<%= config.bin %> put user:42 alice',
    '<%= config.bin %> put user:42 bob --context CONTEXT_FROM_GET',
    'cat photo.jpg | <%= config.bin %> put photo -',
    '<%= config.bin %> put photo --file photo.jpg --w 3',
  ]
  static override args = {
    key: Args.string({required: true, description: 'the key (UTF-8)'}),
    value: Args.string({required: false, description: 'the value (UTF-8); - reads standard input'}),
  }
  static override flags = {
    file: Flags.string({description: 'read the value from this file'}),
    context: Flags.string({description: 'context from an earlier get: the write replaces what that get saw'}),
    ...writeFlags,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Put)
    const value = await readValue(args.value, flags.file)
    const target = await resolveTarget(flags)
    const client = new DynClient(target)
    try {
      const result = await client.put(args.key, value, {
        ...(flags.context === undefined ? {} : {context: flags.context}),
        ...(flags.w === undefined ? {} : {w: flags.w}),
      })
      const input = {key: args.key, ...result, ...(flags['show-clock'] ? {clock: readableContext(result.context, target.cluster)} : {})}
      if (!this.jsonEnabled()) this.log(putText({...input, verb: 'stored'}, {color: process.stdout.isTTY === true}))
      return putJson(input)
    } finally {
      await client.close()
    }
  }
}

async function readValue(value: string | undefined, file: string | undefined): Promise<Uint8Array | string> {
  if (value !== undefined && file !== undefined) throw new ValueSourceError('give the value either as VALUE or with --file, not both')
  if (file !== undefined) return readFile(file)
  if (value === undefined) throw new ValueSourceError('no value given')
  return value === '-' ? readStdin() : value
}

/** Standard input, refused past the largest value any node accepts (no unbounded read). */
async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of process.stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    bytes += buffer.length
    if (bytes > valueBytesMaxCeiling) throw new ValueSourceError(`standard input is over ${valueBytesMaxCeiling} bytes, more than any node accepts`)
    chunks.push(buffer)
  }
  return Buffer.concat(chunks)
}
