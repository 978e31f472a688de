// Log store benchmark (DESIGN §10.5): dyn's Bitcask log against classic-level (LevelDB)
// on the same machine in the same run. Not a test; results go to docs/benchmarks.md.
//
//   npm run bench:store              table
//   npm run bench:store -- --json    {"results":[{"workload","dyn","classicLevel"}]}
//   npm run bench:store -- --quick   smaller sizes, for checking the program itself
//
// Workloads, 1 KiB incompressible values: durable puts (dyn sync `always`, LevelDB
// `sync: true`) at concurrency 1 and 64, random gets at concurrency 1 and 64, and the
// time to reopen a store of 1M keys with and without dyn's hint files (LevelDB has no
// hint files: both of its rows are the same open).
import {randomBytes} from 'node:crypto'
import {mkdtemp, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ClassicLevel} from 'classic-level'
import {LogStore, type Partition} from '../src/store/index.js'

const json = process.argv.includes('--json')
const quick = process.argv.includes('--quick')

const valueBytes = 1024
/** Keys of the put and get workloads. */
const keyCount = quick ? 10_000 : 100_000
/** A lone durable put costs one fsync for both stores: fewer operations keep the run short. */
const serialPutCount = quick ? 500 : 3_000
/** Keys of the reopen workload. */
const reopenKeyCount = quick ? 50_000 : 1_000_000
/** Runs of each quick workload; the median is reported. */
const repeats = 3

interface Row {
  workload: string
  dyn: number
  classicLevel: number
}

const log = (line: string): void => {
  if (!json) console.error(line)
}

const keyOf = (i: number): Buffer => Buffer.from(`key-${String(i).padStart(9, '0')}`)
/** Incompressible values without an allocation per operation: windows onto one random pool. */
const valuePool = randomBytes(4 * 1024 * 1024)
const valueOf = (i: number): Buffer => {
  const start = (i * 4099) % (valuePool.length - valueBytes)
  return valuePool.subarray(start, start + valueBytes)
}

/** Runs op(0..count-1) with `concurrency` operations in flight; resolves with operations per second. */
async function opsPerSecond(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) await op(next++)
  }
  const started = performance.now()
  await Promise.all(Array.from({length: concurrency}, worker))
  return count / ((performance.now() - started) / 1000)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

async function medianOf(run: () => Promise<number>): Promise<number> {
  const results: number[] = []
  for (let i = 0; i < repeats; i++) results.push(await run())
  return median(results)
}

function shuffledIndexes(count: number): number[] {
  const indexes = Array.from({length: count}, (_, i) => i)
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[indexes[i], indexes[j]] = [indexes[j] ?? 0, indexes[i] ?? 0]
  }
  return indexes
}

interface Subject {
  put(i: number): Promise<unknown>
  get(i: number): Promise<unknown>
  close(): Promise<void>
}

async function openDyn(dir: string, sync: string): Promise<Subject & {partition: Partition}> {
  const store = await LogStore.open({dir, sync})
  const partition = await store.openPartition(0)
  return {
    partition,
    put: (i) => partition.put(keyOf(i), valueOf(i)),
    get: async (i) => {
      if ((await partition.get(keyOf(i))) === undefined) throw new Error(`dyn lost key ${i}`)
    },
    close: () => store.close(),
  }
}

/** Puts spread over `partitionCount` partitions, as a node's are: only a store-wide journal
 * lets them share syncs. Resolves with ops/s and the records one data sync carried, read off
 * the store's own counters (what a node's /metrics shows). */
async function spreadPuts(dir: string, journal: boolean, order: number[]): Promise<{opsPerSecond: number; recordsPerSync: number}> {
  const partitionCount = 64
  const store = await LogStore.open({dir, sync: 'always', journal})
  const partitions = await Promise.all(Array.from({length: partitionCount}, (_, i) => store.openPartition(i)))
  const rate = await opsPerSecond(keyCount, 64, (i) => {
    const key = order[i] ?? 0
    return partitions[key % partitionCount]!.put(keyOf(key), valueOf(key))
  })
  let syncs = store.journalStats()?.syncs ?? 0
  let records = store.journalStats()?.records ?? 0
  for (const partition of partitions) {
    syncs += partition.stats().syncs
    records += partition.stats().syncedRecords
  }
  await store.close()
  return {opsPerSecond: rate, recordsPerSync: records / syncs}
}

async function openLevel(dir: string, sync: boolean): Promise<Subject> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, {keyEncoding: 'buffer', valueEncoding: 'buffer'})
  await db.open()
  return {
    put: (i) => db.put(keyOf(i), valueOf(i), {sync}),
    get: async (i) => {
      if ((await db.get(keyOf(i))) === undefined) throw new Error(`classic-level lost key ${i}`)
    },
    close: () => db.close(),
  }
}

async function putAndGetRows(base: string): Promise<Row[]> {
  const rows: Row[] = []
  const subjects = {
    dyn: await openDyn(join(base, 'dyn'), 'always'),
    classicLevel: await openLevel(join(base, 'level'), true),
  }
  const order = shuffledIndexes(keyCount)
  const measure = async (workload: string, run: (subject: Subject) => Promise<number>): Promise<void> => {
    const row = {workload, dyn: await run(subjects.dyn), classicLevel: await run(subjects.classicLevel)}
    log(`  ${workload}: dyn ${row.dyn.toFixed(0)}, classic-level ${row.classicLevel.toFixed(0)}`)
    rows.push(row)
  }
  // Serial puts write keys that the concurrent run overwrites: same final key set for both.
  await measure('put_durable_c1_ops_s', (s) => opsPerSecond(serialPutCount, 1, (i) => s.put(order[i] ?? 0)))
  await measure('put_durable_c64_ops_s', (s) => opsPerSecond(keyCount, 64, (i) => s.put(order[i] ?? 0)))
  // A node's puts go to 64 partitions: with the journal (the default) they share syncs;
  // without it (one fdatasync per partition batch, as before) they mostly do not.
  // classic-level is one store whatever the key: it gets the same puts.
  const spread = await spreadPuts(join(base, 'dyn-spread'), true, order)
  const perPartition = await spreadPuts(join(base, 'dyn-spread-nojournal'), false, order)
  const level = await opsPerSecond(keyCount, 64, (i) => subjects.classicLevel.put(order[i] ?? 0))
  for (const row of [
    {workload: 'put_durable_c64_64partitions_ops_s', dyn: spread.opsPerSecond, classicLevel: level},
    {workload: 'put_durable_c64_64partitions_nojournal_ops_s', dyn: perPartition.opsPerSecond, classicLevel: level},
    {workload: 'records_per_sync_c64_64partitions', dyn: spread.recordsPerSync, classicLevel: Number.NaN},
    {workload: 'records_per_sync_c64_64partitions_nojournal', dyn: perPartition.recordsPerSync, classicLevel: Number.NaN},
  ]) {
    log(`  ${row.workload}: dyn ${row.dyn.toFixed(1)}, classic-level ${row.classicLevel.toFixed(0)}`)
    rows.push(row)
  }
  await measure('get_random_c1_ops_s', (s) => medianOf(() => opsPerSecond(keyCount, 1, (i) => s.get(order[(i * 7919) % keyCount] ?? 0))))
  await measure('get_random_c64_ops_s', (s) => medianOf(() => opsPerSecond(keyCount, 64, (i) => s.get(order[(i * 7919) % keyCount] ?? 0))))
  await subjects.dyn.close()
  await subjects.classicLevel.close()
  return rows
}

/** Loads `reopenKeyCount` keys fast (no per-put sync): the reopen workloads measure opening, not loading. */
async function loadForReopen(base: string): Promise<void> {
  const dyn = await openDyn(join(base, 'dyn-reopen'), 'none')
  await opsPerSecond(reopenKeyCount, 256, (i) => dyn.put(i))
  await dyn.close()
  const db = new ClassicLevel<Buffer, Buffer>(join(base, 'level-reopen'), {keyEncoding: 'buffer', valueEncoding: 'buffer'})
  await db.open()
  const batchKeys = 1000
  for (let start = 0; start < reopenKeyCount; start += batchKeys) {
    const batch = db.batch()
    for (let i = start; i < Math.min(start + batchKeys, reopenKeyCount); i++) batch.put(keyOf(i), valueOf(i))
    await batch.write()
  }
  await db.close()
}

async function secondsTo(run: () => Promise<void>): Promise<number> {
  const started = performance.now()
  await run()
  return (performance.now() - started) / 1000
}

async function reopenDyn(dir: string): Promise<void> {
  const store = await LogStore.open({dir})
  const partition = await store.openPartition(0)
  if (partition.stats().keys !== reopenKeyCount) throw new Error(`dyn reopened ${partition.stats().keys} keys`)
  await store.close()
}

async function reopenLevel(dir: string): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, {keyEncoding: 'buffer', valueEncoding: 'buffer'})
  await db.open()
  if ((await db.get(keyOf(reopenKeyCount - 1))) === undefined) throw new Error('classic-level lost its last key')
  await db.close()
}

async function removeHints(dir: string): Promise<void> {
  const partitionDir = join(dir, 'p-0')
  for (const name of await readdir(partitionDir)) if (name.endsWith('.hint')) await rm(join(partitionDir, name))
}

async function reopenRows(base: string): Promise<Row[]> {
  const label = reopenKeyCount >= 1_000_000 ? `${reopenKeyCount / 1_000_000}M` : `${reopenKeyCount / 1000}k`
  log(`  loading ${label} keys into both stores for the reopen workloads...`)
  await loadForReopen(base)
  const dynDir = join(base, 'dyn-reopen')
  const levelDir = join(base, 'level-reopen')
  const levelSeconds = median([await secondsTo(() => reopenLevel(levelDir)), await secondsTo(() => reopenLevel(levelDir)), await secondsTo(() => reopenLevel(levelDir))])
  const withHints = median([await secondsTo(() => reopenDyn(dynDir)), await secondsTo(() => reopenDyn(dynDir)), await secondsTo(() => reopenDyn(dynDir))])
  await removeHints(dynDir)
  const withoutHints = await secondsTo(() => reopenDyn(dynDir))
  const rows = [
    {workload: `reopen_${label}_keys_with_hints_s`, dyn: withHints, classicLevel: levelSeconds},
    {workload: `reopen_${label}_keys_without_hints_s`, dyn: withoutHints, classicLevel: levelSeconds},
  ]
  for (const row of rows) log(`  ${row.workload}: dyn ${row.dyn.toFixed(3)} s, classic-level ${row.classicLevel.toFixed(3)} s`)
  return rows
}

function printTable(rows: Row[]): void {
  const header = ['workload', 'dyn', 'classic-level', 'dyn / classic-level']
  const lines = rows.map((row) => {
    const seconds = row.workload.endsWith('_s') && !row.workload.includes('ops_s')
    const perSync = row.workload.startsWith('records_per_sync')
    const format = (value: number): string => (Number.isNaN(value) ? '-' : perSync ? value.toFixed(1) : seconds ? `${value.toFixed(3)} s` : `${Math.round(value)} ops/s`)
    const ratio = row.dyn / row.classicLevel
    return [row.workload, format(row.dyn), format(row.classicLevel), Number.isNaN(ratio) ? '-' : ratio.toFixed(2)]
  })
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length)))
  const render = (cells: string[]): string => `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`
  console.log(render(header))
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`)
  for (const line of lines) console.log(render(line))
  console.log(`\nValues ${valueBytes} B; durable = dyn sync "always" (group commit), LevelDB sync: true.`)
  console.log(`Keys: ${keyCount}. Concurrency-1 durable puts use ${serialPutCount} operations (one fsync each for both stores);`)
  console.log(`concurrency-64 puts write all ${keyCount} keys; gets read ${keyCount} keys in random order (median of ${repeats} runs).`)
  console.log('Reopen rows are seconds (lower is better); LevelDB has no hint files, so both its reopen rows are the same open.')
}

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'dyn-bench-store-'))
  try {
    log(`data under ${base}`)
    const rows = [...(await putAndGetRows(base)), ...(await reopenRows(base))]
    if (json) console.log(JSON.stringify({results: rows}))
    else printTable(rows)
  } finally {
    await rm(base, {recursive: true, force: true})
  }
}

await main()
