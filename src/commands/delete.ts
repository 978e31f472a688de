import {Args, Flags} from '@oclif/core'
import {writeFlags} from '../cli/flags.js'
import {KvCommand} from '../cli/kv-command.js'
import {DynClient} from '../client/index.js'
import {resolveTarget} from '../cluster/target.js'
import {putJson, putText, readableContext} from '../render/index.js'

export default class Delete extends KvCommand {
  static override description = 'Delete a key (writes a tombstone). Without --context the node reads the key first and deletes what a quorum holds'
  static override examples = ['<%= config.bin %> delete user:42', '<%= config.bin %> delete user:42 --context CONTEXT_FROM_GET --w 3']
  static override args = {key: Args.string({required: true, description: 'the key (UTF-8)'})}
  static override flags = {
    context: Flags.string({description: 'context from an earlier get: delete exactly what that get saw'}),
    ...writeFlags,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Delete)
    const target = await resolveTarget(flags)
    const client = new DynClient(target)
    try {
      const result = await client.delete(args.key, {
        ...(flags.context === undefined ? {} : {context: flags.context}),
        ...(flags.w === undefined ? {} : {w: flags.w}),
      })
      const input = {key: args.key, ...result, ...(flags['show-clock'] ? {clock: readableContext(result.context, target.cluster)} : {})}
      if (!this.jsonEnabled()) this.log(putText({...input, verb: 'deleted'}, {color: process.stdout.isTTY === true}))
      return {...putJson(input), deleted: true}
    } finally {
      await client.close()
    }
  }
}
