// Opening a partition directory after a clean close or a crash (Bitcask §"startup";
// DESIGN §6 "Recovery"):
// 1. finish or forget an interrupted compaction: a commit file means the new segments
//    were fully written and synced, so the swap is replayed; without one, the
//    temporary files of the interrupted compaction or hint write are deleted;
// 2. load each segment, oldest first, from its hint file when the hint is valid for
//    that exact data file, else by scanning the data file (corrupt records skipped and
//    counted, a torn tail truncated) and then writing the missing hint.
import {join} from 'node:path'
import {crc32} from 'node:zlib'
import {writeAll, type StoreFiles} from './files.js'
import {forEachHintEntry, HintWriter, validHint, type RecordDescriber} from './hint.js'
import type {Keydir} from './keydir.js'
import type {StoreEvent} from './options.js'
import {flagTombstone} from './record.js'
import {scanSegmentFile} from './scan.js'
import {dataFileName, hintFileName, Segment, segmentIdOf, tempSuffix} from './segment.js'

export const commitFileName = 'compaction.commit'

export interface CompactionCommit {
  /** Segments whose files the compaction replaces or removes. */
  inputs: number[]
  /** Segments written under temporary names that take their final names. */
  outputs: number[]
}

export function encodeCommit(commit: CompactionCommit): Buffer {
  const body = JSON.stringify(commit)
  return Buffer.from(`${body}\n${crc32(body).toString(16)}\n`)
}

function decodeCommit(bytes: Buffer): CompactionCommit | undefined {
  const [body, checksum] = bytes.toString('utf8').split('\n')
  if (body === undefined || checksum !== crc32(body).toString(16)) return undefined
  const parsed: unknown = JSON.parse(body)
  return parsed as CompactionCommit
}

/** Writes a small file durably under its final name: temporary name, fsync, rename, fsync dir. */
export async function writeFileAtomically(files: StoreFiles, dir: string, name: string, bytes: Buffer): Promise<void> {
  await writeTempFile(files, dir, name, bytes)
  await files.rename(join(dir, name + tempSuffix), join(dir, name))
  await files.syncDir(dir)
}

/**
 * Writes and syncs `name` + tempSuffix. On failure (a full disk) the temporary file is
 * removed before the error is thrown: it would hold space until the next open, and stop
 * the next write of the same name (files are created exclusively).
 */
export async function writeTempFile(files: StoreFiles, dir: string, name: string, bytes: Buffer): Promise<void> {
  const tempPath = join(dir, name + tempSuffix)
  const file = await files.open(tempPath, 'create')
  try {
    try {
      await writeAll(file, [bytes], 0)
      await file.datasync()
    } finally {
      await file.close()
    }
  } catch (error) {
    await files.unlink(tempPath).catch(() => undefined)
    throw error
  }
}

/** Applies a committed compaction's file swap; every step may already have happened. */
export async function applyCommit(files: StoreFiles, dir: string, commit: CompactionCommit): Promise<void> {
  const names = new Set(await files.list(dir))
  for (const id of commit.outputs) {
    for (const name of [dataFileName(id), hintFileName(id)]) {
      if (names.has(name + tempSuffix)) await files.rename(join(dir, name + tempSuffix), join(dir, name))
    }
  }
  const outputs = new Set(commit.outputs)
  for (const id of commit.inputs) {
    if (outputs.has(id)) continue
    await files.unlink(join(dir, dataFileName(id)))
    await files.unlink(join(dir, hintFileName(id)))
  }
  await files.syncDir(dir)
  await files.unlink(join(dir, commitFileName))
  await files.syncDir(dir)
}

export async function finishInterruptedWork(files: StoreFiles, dir: string): Promise<void> {
  const names = await files.list(dir)
  if (names.includes(commitFileName)) {
    const commit = decodeCommit(await files.readFile(join(dir, commitFileName)))
    if (commit !== undefined) await applyCommit(files, dir, commit)
    else await files.unlink(join(dir, commitFileName))
  }
  for (const name of await files.list(dir)) {
    if (name.endsWith(tempSuffix)) await files.unlink(join(dir, name))
  }
}

export interface LoadCounters {
  corruptRecords: number
  corruptBytes: number
  truncatedBytes: number
  hintsRejected: number
}

export interface LoadContext {
  files: StoreFiles
  /** File names of the directory when loading began. */
  names: Set<string>
  dir: string
  keydir: Keydir
  counters: LoadCounters
  logger: (event: StoreEvent) => void
  /** Describes value records in the hints it writes; hints must carry its descriptions. */
  describer: RecordDescriber | undefined
}

/** Opens and indexes every segment of the directory, oldest first; empty ones are removed. */
export async function loadSegments(context: LoadContext): Promise<Segment[]> {
  const ids = [...context.names]
    .map(segmentIdOf)
    .filter((id): id is number => id !== undefined)
    .sort((a, b) => a - b)
  const segments: Segment[] = []
  for (const id of ids) {
    const segment = await loadSegment(context, id)
    if (segment !== undefined) segments.push(segment)
  }
  return segments
}

async function loadSegment(context: LoadContext, id: number): Promise<Segment | undefined> {
  const {files, dir} = context
  const file = await files.open(join(dir, dataFileName(id)), 'read')
  const segment = new Segment(id, dir, file, await file.size())
  if (!(await loadFromHint(context, segment))) await loadByScan(context, segment)
  if (segment.size > 0) return segment
  await file.close()
  await files.unlink(segment.path)
  await files.unlink(segment.hintPath)
  return undefined
}

async function loadFromHint(context: LoadContext, segment: Segment): Promise<boolean> {
  if (!context.names.has(hintFileName(segment.id))) return false
  const hint = await context.files.readFile(segment.hintPath)
  const check = validHint(hint, segment.size, context.describer)
  if (!check.ok) {
    context.counters.hintsRejected++
    context.logger({kind: 'hintInvalid', path: segment.hintPath, reason: check.reason})
    return false
  }
  const {keydir} = context
  forEachHintEntry(hint, (key, flags, offset, size, descriptionAt) =>
    keydir.set(key, segment, offset, size, flags === flagTombstone, descriptionAt < 0 ? undefined : hint, descriptionAt),
  )
  return true
}

/** Scans a data file, indexing its records, truncating a torn tail and writing its hint. */
async function loadByScan(context: LoadContext, segment: Segment): Promise<void> {
  const {keydir, counters, logger} = context
  const hint = new HintWriter(context.describer)
  const result = await scanSegmentFile(
    segment.file,
    segment.size,
    (bytes, keyStart, record, offset) => {
      const key = bytes.toString('latin1', keyStart, keyStart + record.keyBytes)
      const describedAt = hint.add(record.flags, bytes, keyStart, record, offset)
      keydir.set(key, segment, offset, record.size, record.flags === flagTombstone, describedAt < 0 ? undefined : hint.chunk, describedAt)
    },
    (offset, bytesSkipped) => logger({kind: 'corruptRecord', path: segment.path, offset, bytesSkipped}),
  )
  counters.corruptRecords += result.corruptRecords
  counters.corruptBytes += result.corruptBytes
  if (result.endOffset < segment.size) {
    const bytesTruncated = segment.size - result.endOffset
    counters.truncatedBytes += bytesTruncated
    logger({kind: 'tornTail', path: segment.path, offset: result.endOffset, bytesTruncated})
    await truncateFile(context.files, segment.path, result.endOffset)
    segment.size = result.endOffset
  }
  if (segment.size === 0) return
  try {
    await writeFileAtomically(context.files, context.dir, hintFileName(segment.id), hint.finish(segment.size))
  } catch {
    // A hint only speeds up the next open, which scans the segment again; a full disk must
    // not keep the partition from opening and serving what it holds.
  }
}

async function truncateFile(files: StoreFiles, path: string, length: number): Promise<void> {
  const file = await files.open(path, 'readWrite')
  try {
    await file.truncate(length)
    await file.datasync()
  } finally {
    await file.close()
  }
}

/** Builds the hint of a closed segment by scanning it (at roll-over, when it was just written). */
export async function buildHint(segment: Segment, describer: RecordDescriber | undefined): Promise<Buffer> {
  const hint = new HintWriter(describer)
  await scanSegmentFile(
    segment.file,
    segment.size,
    (bytes, keyStart, record, offset) => void hint.add(record.flags, bytes, keyStart, record, offset),
    () => {},
  )
  return hint.finish(segment.size)
}

/** Calls `visit` with every key that has a record in the segment (from its hint, else by scan). */
export async function forEachKeyOf(files: StoreFiles, segment: Segment, visit: (key: string) => void): Promise<void> {
  const hint = await readIfPresent(files, segment.hintPath)
  if (hint !== undefined && validHint(hint, segment.size, undefined).ok) {
    forEachHintEntry(hint, (key) => visit(key))
    return
  }
  await scanSegmentFile(
    segment.file,
    segment.size,
    (bytes, keyStart, record) => visit(bytes.toString('latin1', keyStart, keyStart + record.keyBytes)),
    () => {},
  )
}

async function readIfPresent(files: StoreFiles, path: string): Promise<Buffer | undefined> {
  try {
    return await files.readFile(path)
  } catch {
    return undefined
  }
}
