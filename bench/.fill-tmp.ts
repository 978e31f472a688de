import {execFileSync} from 'node:child_process'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {applyPut, encodeObject, emptyVersionVector} from '../src/core/causality.js'
import {partitionOfKey} from '../src/core/hash.js'
import {LogStore, type Partition} from '../src/store/index.js'
const dir = process.argv[2]!
const keyCount = Number(process.argv[3] ?? 1000000)
const program = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const dyn = (...args: string[]): string => execFileSync(process.execPath, [program, ...args], {encoding: 'utf8'})
dyn('cluster', 'up', '--dir', dir, '--nodes', '1', '--n', '1', '--r', '1', '--w', '1', '--base-port', '27100')
dyn('cluster', 'stop', 'n1', '--dir', dir)
const store = await LogStore.open({dir: join(dir, 'n1', 'data'), sync: 'none'})
const partitions = new Map<number, Partition>()
for (let p = 0; p < 64; p++) partitions.set(p, await store.openPartition(p))
const value = new Uint8Array(1024).fill(0x61)
let next = 0
const worker = async (): Promise<void> => {
  while (next < keyCount) {
    const i = next++
    const key = new TextEncoder().encode(`key-${i}`)
    const {object} = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: {kind: 'value', value}, counter: i + 1})
    await partitions.get(partitionOfKey(key, 64))!.put(key, encodeObject(object))
  }
}
await Promise.all(Array.from({length: 256}, worker))
await store.close()
