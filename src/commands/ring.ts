import {writeFile} from 'node:fs/promises'
import {Flags} from '@oclif/core'
import {targetFlags} from '../cli/flags.js'
import {BaseCommand} from '../cli/base-command.js'
import {DynClient, toBytes} from '../client/index.js'
import {resolveTarget} from '../cluster/target.js'
import {hashKey, positionHex} from '../core/hash.js'
import {preferenceList} from '../core/ring.js'
import {ringJson, ringKeyJson, ringKeyTable, ringSvg, ringTable} from '../render/index.js'

export default class Ring extends BaseCommand {
  static override description = "Show the ring: partitions per node against each node's share; with --key, a key's hash, partition and preference list"
  static override examples = ['<%= config.bin %> ring', '<%= config.bin %> ring --key user:42 --json', '<%= config.bin %> ring --key user:42 --svg ring.svg']
  static override flags = {
    key: Flags.string({description: 'show where this key lives'}),
    svg: Flags.string({description: "also draw the ring into this SVG file: partitions coloured by owner; with --key, the key's preference list marked"}),
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
        await this.drawn(flags.svg, () => ringSvg({ring: info.ring, n: info.n}))
        if (!this.jsonEnabled()) this.log(ringTable(input, {color}))
        return ringJson(input)
      }
      const list = preferenceList(info.ring, {key: toBytes(flags.key)}, {n: info.n})
      const input = {key: flags.key, hash: positionHex(hashKey(flags.key)), partition: list.partition, preferenceList: list.primaries, fallbacks: list.fallbacks}
      await this.drawn(flags.svg, () => ringSvg({ring: info.ring, n: info.n, key: input}))
      if (!this.jsonEnabled()) this.log(ringKeyTable({...input, addresses: info.nodes}, {color}))
      return ringKeyJson(input)
    } finally {
      await client.close()
    }
  }

  /** Writes the picture when --svg names a file; says so on stderr (stdout stays the report). */
  private async drawn(path: string | undefined, svg: () => string): Promise<void> {
    if (path === undefined) return
    await writeFile(path, svg())
    if (!this.jsonEnabled()) process.stderr.write(`wrote ${path}\n`)
  }
}
