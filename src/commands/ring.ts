import {Flags} from '@oclif/core'
import {targetFlags} from '../cli/flags.js'
import {BaseCommand} from '../cli/base-command.js'
import {DynClient, toBytes} from '../client/index.js'
import {resolveTarget} from '../cluster/target.js'
import {hashKey, positionHex} from '../core/hash.js'
import {preferenceList} from '../core/ring.js'
import {ringJson, ringKeyJson, ringKeyTable, ringTable} from '../render/index.js'

export default class Ring extends BaseCommand {
  static override description = "Show the ring: partitions per node against each node's share; with --key, a key's hash, partition and preference list"
  static override examples = ['<%= config.bin %> ring', '<%= config.bin %> ring --key user:42 --json']
  static override flags = {
    key: Flags.string({description: 'show where this key lives'}),
    ...targetFlags('ask'),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Ring)
    const target = await resolveTarget(flags)
    const client = new DynClient({...target, routing: 'direct'})
    try {
      const info = await client.ring()
      const color = process.stdout.isTTY === true
      if (flags.key === undefined) {
        const input = {ring: info.ring, n: info.n, addresses: info.nodes}
        if (!this.jsonEnabled()) this.log(ringTable(input, {color}))
        return ringJson(input)
      }
      const list = preferenceList(info.ring, {key: toBytes(flags.key)}, {n: info.n})
      const input = {key: flags.key, hash: positionHex(hashKey(flags.key)), partition: list.partition, preferenceList: list.primaries, fallbacks: list.fallbacks}
      if (!this.jsonEnabled()) this.log(ringKeyTable({...input, addresses: info.nodes}, {color}))
      return ringKeyJson(input)
    } finally {
      await client.close()
    }
  }
}
