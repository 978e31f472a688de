// Compaction (Bitcask §"merge"): closed segments whose dead-byte ratio reaches the
// threshold are rewritten with only the records the keydir still points to.
//
// Where the copies go. Selected segments are grouped in id order, each group small
// enough to fit one segment; a group's output takes the id of the group's newest input.
// That is safe because a record the keydir points to is the newest of its key: no
// segment after its source holds that key, so any id from its source up to (not
// including) the active segment orders it correctly against every older record.
//
// Tombstones. A delete record is dropped only when no segment left after the swap holds
// an older record of its key; otherwise it is copied, or the older value would come back
// at the next startup. Older records in selected segments are dead and disappear with
// them, so only unselected older segments are checked (their hint files, else a scan).
//
// The swap is atomic under crashes: outputs are written under temporary names and
// synced, then a checksummed commit file naming inputs and outputs is made durable (the
// commit point), then files are renamed and removed, then the commit file is removed.
// Startup replays a commit file it finds and deletes temporary files otherwise.
import {join} from 'node:path'
import {CompactionIncompleteError, writeErrorFor} from './errors.js'
import type {StoreFile, StoreFiles} from './files.js'
import {HintWriter, type RecordDescriber} from './hint.js'
import type {Keydir} from './keydir.js'
import type {StoreEvent} from './options.js'
import {recordHeaderBytes} from './record.js'
import {applyCommit, commitFileName, encodeCommit, forEachKeyOf, writeTempFile, type CompactionCommit} from './recovery.js'
import {scanSegmentFile} from './scan.js'
import {dataFileName, hintFileName, Segment, tempSuffix} from './segment.js'
import {writeAll} from './files.js'

export interface CompactionContext {
  files: StoreFiles
  dir: string
  keydir: Keydir
  segmentBytesMax: number
  deadRatioMin: number
  logger: (event: StoreEvent) => void
  /** Describes the value records of the hints compaction writes (StoreOptions.describer). */
  describer: RecordDescriber | undefined
  /** Closed segments, oldest first, when compaction starts. */
  closedSegments: readonly Segment[]
  /** Replaces `removed` by `added` among the closed segments (in memory) and retires `removed`. */
  swap(removed: readonly Segment[], added: readonly Segment[]): void
}

export interface CompactionReport {
  segmentsIn: number
  segmentsOut: number
  bytesIn: number
  bytesOut: number
  tombstonesDropped: number
}

interface Copy {
  key: string
  from: Segment
  fromOffset: number
  toOffset: number
}

interface Output {
  id: number
  file: StoreFile
  size: number
  copies: Copy[]
  dropped: {key: string; segment: Segment; offset: number}[]
}

export function selectSegments(closed: readonly Segment[], deadRatioMin: number): Segment[] {
  return closed.filter((segment) => segment.size > 0 && segment.deadBytes / segment.size >= deadRatioMin)
}

/** Consecutive runs of selected segments whose live bytes fit in one segment. */
export function groupSegments(selected: readonly Segment[], segmentBytesMax: number): Segment[][] {
  const groups: Segment[][] = []
  let current: Segment[] = []
  let liveBytes = 0
  for (const segment of selected) {
    if (current.length > 0 && liveBytes + segment.liveBytes > segmentBytesMax) {
      groups.push(current)
      current = []
      liveBytes = 0
    }
    current.push(segment)
    liveBytes += segment.liveBytes
  }
  if (current.length > 0) groups.push(current)
  return groups
}

export async function compact(context: CompactionContext): Promise<CompactionReport> {
  const selected = selectSegments(context.closedSegments, context.deadRatioMin)
  const report: CompactionReport = {segmentsIn: selected.length, segmentsOut: 0, bytesIn: 0, bytesOut: 0, tombstonesDropped: 0}
  if (selected.length === 0) return report
  const keep = await tombstonesToKeep(context, new Set(selected))
  const outputs: Output[] = []
  try {
    for (const group of groupSegments(selected, context.segmentBytesMax)) outputs.push(await writeOutput(context, group, keep))
  } catch (error) {
    // Before the commit point: forget the outputs; the inputs are untouched.
    for (const output of outputs) await discardOutput(context, output)
    throw writeErrorFor(context.dir, error)
  }
  const commit = await prepareCommit(context, selected, outputs)
  try {
    await commitAndSwap(context, commit, selected, outputs)
  } catch (error) {
    // The commit file may be durable: the swap can only be finished by recovery at the next open.
    throw new CompactionIncompleteError(context.dir, error)
  }
  for (const segment of selected) report.bytesIn += segment.size
  for (const output of outputs) {
    report.bytesOut += output.size
    report.tombstonesDropped += output.dropped.length
    if (output.size > 0) report.segmentsOut++
  }
  context.logger({kind: 'compactionCompleted', path: context.dir, segmentsIn: report.segmentsIn, segmentsOut: report.segmentsOut})
  return report
}

/** Keys of live tombstones in selected segments that an unselected older segment still holds. */
async function tombstonesToKeep(context: CompactionContext, selected: ReadonlySet<Segment>): Promise<Set<string>> {
  const tombstoneSegmentIds = new Map<string, number>()
  for (const segment of selected) {
    for (const [key, entry] of context.keydir.inSegment(segment)) {
      if (entry.tombstone) tombstoneSegmentIds.set(key, segment.id)
    }
  }
  const keep = new Set<string>()
  if (tombstoneSegmentIds.size === 0) return keep
  for (const older of context.closedSegments) {
    if (selected.has(older)) continue
    await forEachKeyOf(context.files, older, (key) => {
      const tombstoneId = tombstoneSegmentIds.get(key)
      if (tombstoneId !== undefined && tombstoneId > older.id) keep.add(key)
    })
  }
  return keep
}

async function writeOutput(context: CompactionContext, group: readonly Segment[], keep: ReadonlySet<string>): Promise<Output> {
  const last = group[group.length - 1]
  if (last === undefined) throw new Error('assertion failed: empty compaction group')
  const file = await context.files.open(join(context.dir, dataFileName(last.id) + tempSuffix), 'create')
  const output: Output = {id: last.id, file, size: 0, copies: [], dropped: []}
  try {
    await copyLiveRecords(context, group, keep, output)
  } catch (error) {
    await discardOutput(context, output)
    throw error
  }
  return output
}

async function copyLiveRecords(context: CompactionContext, group: readonly Segment[], keep: ReadonlySet<string>, output: Output): Promise<void> {
  const {file} = output
  const hint = new HintWriter(context.describer)
  for (const source of group) {
    const chunks: Buffer[] = []
    await scanSegmentFile(
      source.file,
      source.size,
      (bytes, keyStart, record, offset) => {
        const key = bytes.toString('latin1', keyStart, keyStart + record.keyBytes)
        const entry = context.keydir.get(key)
        if (entry?.segment !== source || entry.offset !== offset) return
        if (entry.tombstone && !keep.has(key)) {
          output.dropped.push({key, segment: source, offset})
          return
        }
        const recordStart = keyStart - recordHeaderBytes
        chunks.push(Buffer.from(bytes.subarray(recordStart, recordStart + record.size)))
        hint.add(record.flags, bytes, keyStart, record, output.size)
        output.copies.push({key, from: source, fromOffset: offset, toOffset: output.size})
        output.size += record.size
      },
      () => {},
    )
    if (chunks.length > 0) await writeAll(file, chunks, output.size - chunks.reduce((sum, chunk) => sum + chunk.length, 0))
  }
  await file.datasync()
  if (output.size > 0) await writeTempFile(context.files, context.dir, hintFileName(output.id), hint.finish(output.size))
}

/** Writes the commit file under its temporary name, before the commit point: when that
 * fails (a full disk), the outputs are discarded and the inputs stay as they were, so the
 * compaction fails like one whose outputs could not be written and may simply run again. */
async function prepareCommit(context: CompactionContext, selected: readonly Segment[], outputs: readonly Output[]): Promise<CompactionCommit> {
  const commit = {inputs: selected.map((segment) => segment.id), outputs: outputs.filter((output) => output.size > 0).map((output) => output.id)}
  try {
    for (const output of outputs) {
      if (output.size === 0) await discardOutput(context, output)
    }
    await writeTempFile(context.files, context.dir, commitFileName, encodeCommit(commit))
  } catch (error) {
    for (const output of outputs) await discardOutput(context, output)
    throw writeErrorFor(context.dir, error)
  }
  return commit
}

async function commitAndSwap(context: CompactionContext, commit: CompactionCommit, selected: readonly Segment[], outputs: readonly Output[]): Promise<void> {
  const written = outputs.filter((output) => output.size > 0)
  // The commit point: the commit file under its name, durably.
  await context.files.rename(join(context.dir, commitFileName + tempSuffix), join(context.dir, commitFileName))
  await context.files.syncDir(context.dir)
  await applyCommit(context.files, context.dir, commit)
  const added = written.map((output) => {
    const segment = new Segment(output.id, context.dir, output.file, output.size)
    for (const copy of output.copies) context.keydir.move(copy.key, copy.from, copy.fromOffset, segment, copy.toOffset)
    return segment
  })
  for (const output of outputs) {
    for (const drop of output.dropped) context.keydir.dropTombstone(drop.key, drop.segment, drop.offset)
  }
  context.swap(selected, added)
}

async function discardOutput(context: CompactionContext, output: Output): Promise<void> {
  try {
    await output.file.close()
  } catch {
    // Already closed or never usable; the temporary file is removed below or at startup.
  }
  await context.files.unlink(join(context.dir, dataFileName(output.id) + tempSuffix))
  await context.files.unlink(join(context.dir, hintFileName(output.id) + tempSuffix))
}
