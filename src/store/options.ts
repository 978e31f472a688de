// Options of the log store, their defaults and limits, validated once at open with errors
// that name the field and the allowed values (DESIGN §6).
import {valueBytesMaxCeiling, valueBytesMaxDefault} from '../core/limits.js'
import {InvalidStoreOptionError} from './errors.js'
import {nodeFiles, type StoreFiles} from './files.js'
import {descriptionBytesMax, type RecordDescriber} from './hint.js'

const KiB = 1024
const MiB = 1024 * KiB

/** Bitcask's default roll-over size class: large enough that a node with hundreds of
 * partitions keeps few files open, small enough that one compaction step is short. */
export const segmentBytesMaxDefault = 64 * MiB
/** Smallest segment limit; tiny segments are only for tests of roll-over and compaction. */
export const segmentBytesMaxMin = 64
/** Above this, one compaction step rewrites too much at once. */
export const segmentBytesMaxCeiling = 1024 * MiB

/** A closed segment is compacted once at least half its bytes are superseded or deleted:
 * merging then at least halves it, so each byte is rewritten a bounded number of times. */
export const compactionDeadRatioDefault = 0.5

/** Longest `interval:MS` sync period: a crash may lose up to this much acknowledged work. */
export const syncIntervalMsMax = 60_000

/** One group commit writes at most this many records: writev takes at most IOV_MAX (1024)
 * buffers per call on Linux. */
export const batchRecordsMax = 1024
/** ...and at most this many bytes, which bounds the latency one batch adds to the next. */
export const batchBytesMax = 8 * MiB

/**
 * How a get reads its record. `blocking`: one pread on the calling thread; a page-cache hit
 * costs a few microseconds, several times less than a thread-pool round trip, and Bitcask
 * expects values to be served from the page cache. A cache miss, though, stalls the event
 * loop for one device read: with data sets much larger than memory choose `threadpool`.
 */
export type ReadMode = 'blocking' | 'threadpool'
export const readModeDefault: ReadMode = 'blocking'

export type SyncMode = {kind: 'always'} | {kind: 'interval'; intervalMs: number} | {kind: 'none'}

const syncModesAllowed = `"always", "interval:MS" (MS an integer from 1 to ${syncIntervalMsMax}) or "none"`

/** Parses `always`, `interval:MS` or `none` (the `--sync` flag, DESIGN §6). */
export function parseSyncMode(text: string): SyncMode {
  if (text === 'always') return {kind: 'always'}
  if (text === 'none') return {kind: 'none'}
  const match = /^interval:(\d+)$/.exec(text)
  const intervalMs = match === null ? Number.NaN : Number(match[1])
  if (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > syncIntervalMsMax) {
    throw new InvalidStoreOptionError('sync', text, syncModesAllowed)
  }
  return {kind: 'interval', intervalMs}
}

/** Something the store noticed and repaired or worked around, for the node's log. */
export type StoreEvent =
  | {kind: 'corruptRecord'; path: string; offset: number; bytesSkipped: number}
  | {kind: 'tornTail'; path: string; offset: number; bytesTruncated: number}
  | {kind: 'hintInvalid'; path: string; reason: string}
  | {kind: 'staleLockTaken'; path: string; pid: number}
  | {kind: 'syncFailed'; path: string; code: string}
  | {kind: 'compactionCompleted'; path: string; segmentsIn: number; segmentsOut: number}

export interface StoreOptions {
  /** Store directory; partitions live in `dir/p-<index>/`. */
  dir: string
  /** Durability; default `always` (group commit). A string is parsed with parseSyncMode. */
  sync?: SyncMode | string
  /** Active segment rolls over once it reaches this size. */
  segmentBytesMax?: number
  /** Largest value accepted by put; at most valueBytesMaxCeiling. */
  valueBytesMax?: number
  /** A closed segment is compacted when dead bytes / bytes reaches this ratio, in (0, 1]. */
  compactionDeadRatioMin?: number
  /** How gets read values; default `blocking` (see ReadMode). */
  readMode?: ReadMode
  /** Sync `always` only: make batches durable through the store's one journal (default
   * true, journal.ts), or with one fdatasync per partition batch (false: for comparison). */
  journal?: boolean
  /** Describes each value record in the hint files, so that the store's owner can index a
   * partition at open without reading values (Partition.described). Hints written without
   * it, or by another describer, are rebuilt from their data files at open. */
  describer?: RecordDescriber
  /** File system port; tests wrap it to count syncs or inject faults. */
  files?: StoreFiles
  logger?: (event: StoreEvent) => void
}

export interface ResolvedOptions {
  dir: string
  sync: SyncMode
  segmentBytesMax: number
  valueBytesMax: number
  compactionDeadRatioMin: number
  readMode: ReadMode
  journal: boolean
  describer: RecordDescriber | undefined
  files: StoreFiles
  logger: (event: StoreEvent) => void
}

function checkInteger(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidStoreOptionError(field, value, `an integer from ${min} to ${max}`)
  }
  return value
}

export function resolveOptions(options: StoreOptions): ResolvedOptions {
  if (typeof options.dir !== 'string' || options.dir.length === 0) {
    throw new InvalidStoreOptionError('dir', options.dir, 'a non-empty directory path')
  }
  const ratio = options.compactionDeadRatioMin ?? compactionDeadRatioDefault
  if (!(ratio > 0 && ratio <= 1)) throw new InvalidStoreOptionError('compactionDeadRatioMin', ratio, 'a number in (0, 1]')
  const sync = options.sync ?? 'always'
  const readMode = options.readMode ?? readModeDefault
  if (readMode !== 'blocking' && readMode !== 'threadpool') {
    throw new InvalidStoreOptionError('readMode', readMode, '"blocking" or "threadpool"')
  }
  return {
    dir: options.dir,
    sync: typeof sync === 'string' ? parseSyncMode(sync) : parseSyncMode(formatSyncMode(sync)),
    segmentBytesMax: checkInteger('segmentBytesMax', options.segmentBytesMax ?? segmentBytesMaxDefault, segmentBytesMaxMin, segmentBytesMaxCeiling),
    valueBytesMax: checkInteger('valueBytesMax', options.valueBytesMax ?? valueBytesMaxDefault, 0, valueBytesMaxCeiling),
    compactionDeadRatioMin: ratio,
    readMode,
    journal: options.journal ?? true,
    describer: checkDescriber(options.describer),
    files: options.files ?? nodeFiles,
    logger: options.logger ?? (() => {}),
  }
}

function checkDescriber(describer: RecordDescriber | undefined): RecordDescriber | undefined {
  if (describer === undefined) return undefined
  checkInteger('describer.id', describer.id, 1, 0xffffffff)
  checkInteger('describer.bytes', describer.bytes, 1, descriptionBytesMax)
  return describer
}

export function formatSyncMode(mode: SyncMode): string {
  switch (mode.kind) {
    case 'always':
    case 'none':
      return mode.kind
    case 'interval':
      return `interval:${mode.intervalMs}`
    default:
      return unreachableMode(mode)
  }
}

function unreachableMode(mode: never): never {
  throw new InvalidStoreOptionError('sync', mode, syncModesAllowed)
}
