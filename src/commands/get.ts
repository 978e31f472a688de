import {Args, Flags} from '@oclif/core'
import {showClockFlag, targetFlags} from '../cli/flags.js'
import {KvCommand} from '../cli/kv-command.js'
import {DynClient} from '../client/index.js'
import {resolveTarget} from '../cluster/target.js'
import {exitCodes} from '../core/errors.js'
import {getJson, getText, readableContext} from '../render/index.js'

// The installed program runs a plain get without oclif (bin/run.js, src/cli/fast-get.ts): a
// change to the flags or the output here must be made there too; test/cli/fast-get.test.ts
// compares the two.
export default class Get extends KvCommand {
  static override description = 'Read a key: its values (several when writes were concurrent), its context and the quorum result'
  static override examples = ['<%= config.bin %> get user:42', '<%= config.bin %> get user:42 --r 3 --show-clock', '<%= config.bin %> get user:42 --node n2 --json']
  static override args = {key: Args.string({required: true, description: 'the key (UTF-8)'})}
  static override flags = {
    r: Flags.integer({min: 1, description: 'replicas that must answer (1..N; default: the cluster R)'}),
    'show-clock': showClockFlag,
    ...targetFlags('ask'),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Get)
    const target = await resolveTarget(flags)
    const client = new DynClient(target)
    try {
      const result = await client.get(args.key, flags.r === undefined ? {} : {r: flags.r})
      const input = {key: args.key, ...result, ...(flags['show-clock'] ? {clock: readableContext(result.context, target.cluster)} : {})}
      // DESIGN §8: a missing key exits 4 in both modes; --json still prints the result.
      if (!result.found) process.exitCode = exitCodes.notFound
      if (!this.jsonEnabled()) this.log(getText(input, {color: process.stdout.isTTY === true}))
      return getJson(input)
    } finally {
      await client.close()
    }
  }
}
