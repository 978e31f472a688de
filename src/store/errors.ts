// Named errors of the log store (DESIGN §1.5, §6): each says what happened and what to do.
// A full disk fails writes loudly without corrupting what is there; a corrupt record is
// reported, never served; a second process cannot open a store directory.
import {DynError} from '../core/errors.js'

/** Another live process (or another open store in this process) holds the directory. */
export class StoreLockedError extends DynError {
  constructor(dir: string, pid: number) {
    super(`store directory ${dir} is locked by process ${pid}`, {
      code: 'STORE_LOCKED',
      suggestion: `stop process ${pid} or use another data directory; a lock left by a dead process is taken over`,
    })
  }
}

/** A write failed because the file system is full (ENOSPC, EDQUOT). */
export class DiskFullError extends DynError {
  constructor(path: string, cause: unknown) {
    super(`disk full while writing ${path}; the write was not stored`, {
      code: 'DISK_FULL',
      suggestion: 'free space on the file system of the data directory, then retry: writes go through again without a restart, and stored data stays readable meanwhile',
      cause,
    })
  }
}

/** A write or sync failed for another reason; the write was rolled back. */
export class StoreWriteError extends DynError {
  constructor(path: string, cause: unknown) {
    super(`writing ${path} failed (${errorCodeOf(cause) ?? String(cause)}); the write was not stored`, {
      code: 'STORE_WRITE_FAILED',
      suggestion: 'check the data volume (permissions, hardware errors in the system log), then retry',
      cause,
    })
  }
}

/** A record read back from disk does not match its checksum. */
export class CorruptRecordError extends DynError {
  constructor(path: string, offset: number) {
    super(`record at offset ${offset} of ${path} fails its checksum and is not served`, {
      code: 'CORRUPT_RECORD',
      suggestion: 'the value will be repaired from other replicas; check the disk for errors',
    })
  }
}

/** A compaction failed after its commit point: the files are half swapped until the next open. */
export class CompactionIncompleteError extends DynError {
  constructor(dir: string, cause: unknown) {
    super(`compaction of ${dir} failed after its commit point (${errorCodeOf(cause) ?? String(cause)}); reads and writes go on`, {
      code: 'COMPACTION_INCOMPLETE',
      suggestion: 'close and reopen the partition: opening it finishes the swap; no further compaction runs until then',
      cause,
    })
  }
}

/** An option given at open is out of range or of the wrong kind. */
export class InvalidStoreOptionError extends DynError {
  constructor(field: string, given: unknown, allowed: string) {
    super(`store option ${field} is ${JSON.stringify(given)}; allowed: ${allowed}`, {
      code: 'INVALID_STORE_OPTION',
      exitCode: 2,
      suggestion: `set ${field} to ${allowed}`,
    })
  }
}

/** An operation on a closed partition or store. */
export class StoreClosedError extends DynError {
  constructor(what: string) {
    super(`${what} is closed`, {code: 'STORE_CLOSED', suggestion: `open the ${what} again before using it`})
  }
}

export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code
  return undefined
}

/** Turns a file-system failure of a write into the store's named error. */
export function writeErrorFor(path: string, cause: unknown): DynError {
  // Named already (by the journal, for its own file): keep the path where it happened.
  if (cause instanceof DiskFullError || cause instanceof StoreWriteError) return cause
  const code = errorCodeOf(cause)
  if (code === 'ENOSPC' || code === 'EDQUOT') return new DiskFullError(path, cause)
  return new StoreWriteError(path, cause)
}
