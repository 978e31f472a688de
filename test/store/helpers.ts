// Shared test utilities for the log store: temporary directories that are always
// removed, and wrappers of the file-system port that count calls or inject faults.
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {nodeFiles, type StoreFile, type StoreFiles} from '../../src/store/index.js'

/** Runs `body` with a fresh temporary directory that is removed afterwards, even on failure. */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'dyn-store-'))
  try {
    return await body(dir)
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

export function bytes(text: string): Buffer {
  return Buffer.from(text, 'utf8')
}

/** A file-system port that counts data syncs and can make writes fail with a given errno code. */
export class FaultyFiles implements StoreFiles {
  datasyncs = 0
  /** While set, every data write fails with this code after writing `partialBytes` of it. */
  failWritesWith: string | undefined
  partialBytes = 0
  /** When set, only writes to files whose path ends with this fail. */
  failOnlyPathsEndingWith: string | undefined
  /** While set, renames whose source path ends with this fail (to stop a compaction after its commit point). */
  failRenamesEndingWith: string | undefined

  constructor(private readonly inner: StoreFiles = nodeFiles) {}

  async open(path: string, mode: 'create' | 'read' | 'readWrite'): Promise<StoreFile> {
    const file = await this.inner.open(path, mode)
    return this.wrap(file)
  }

  private wrap(file: StoreFile): StoreFile {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const faults = this
    return {
      path: file.path,
      read: (buffer, offset, length, position) => file.read(buffer, offset, length, position),
      readSync: (buffer, offset, length, position) => file.readSync(buffer, offset, length, position),
      async write(buffers, position) {
        const code = faults.failWritesWith
        const spared = faults.failOnlyPathsEndingWith !== undefined && !file.path.endsWith(faults.failOnlyPathsEndingWith)
        if (code === undefined || spared) return file.write(buffers, position)
        if (faults.partialBytes > 0) {
          const first = Buffer.concat([...buffers]).subarray(0, faults.partialBytes)
          await file.write([first], position)
        }
        throw Object.assign(new Error(`${code}: injected fault, write`), {code})
      },
      async datasync() {
        faults.datasyncs++
        return file.datasync()
      },
      truncate: (length) => file.truncate(length),
      size: () => file.size(),
      close: () => file.close(),
    }
  }

  readFile = (path: string): Promise<Buffer> => this.inner.readFile(path)
  rename = async (fromPath: string, toPath: string): Promise<void> => {
    const suffix = this.failRenamesEndingWith
    if (suffix !== undefined && fromPath.endsWith(suffix)) throw Object.assign(new Error('EIO: injected fault, rename'), {code: 'EIO'})
    return this.inner.rename(fromPath, toPath)
  }
  unlink = (path: string): Promise<void> => this.inner.unlink(path)
  list = (dir: string): Promise<string[]> => this.inner.list(dir)
  mkdir = (dir: string): Promise<void> => this.inner.mkdir(dir)
  removeDir = (dir: string): Promise<void> => this.inner.removeDir(dir)
  syncDir = (dir: string): Promise<void> => this.inner.syncDir(dir)
}

/**
 * A file-system port with a page cache that a crash empties: data writes stay in memory
 * (reads see them) until the file is synced, and `loseUnsynced()` forgets every write not
 * synced yet, as a power cut would. Directory operations are durable at once.
 */
export class VolatileFiles implements StoreFiles {
  private readonly pending = new Map<string, Array<{position: number; bytes: Buffer}>>()
  /** Data syncs so far, by file name suffix (`.data`, `.wal`, ...). */
  readonly datasyncs = new Map<string, number>()

  constructor(private readonly inner: StoreFiles = nodeFiles) {}

  /** Forgets every write that was not synced. */
  loseUnsynced(): void {
    this.pending.clear()
  }

  async open(path: string, mode: 'create' | 'read' | 'readWrite'): Promise<StoreFile> {
    const file = await this.inner.open(path, mode)
    const writes = (): Array<{position: number; bytes: Buffer}> => {
      const list = this.pending.get(path) ?? []
      this.pending.set(path, list)
      return list
    }
    const overlay = (buffer: Buffer, offset: number, length: number, position: number, got: number): number => {
      let end = got
      for (const write of this.pending.get(path) ?? []) {
        const from = Math.max(position, write.position)
        const to = Math.min(position + length, write.position + write.bytes.length)
        if (from >= to) continue
        write.bytes.copy(buffer, offset + from - position, from - write.position, to - write.position)
        end = Math.max(end, to - position)
      }
      return end
    }
    const suffix = /\.[a-z]+$/.exec(path)?.[0] ?? ''
    // A sync and a truncate of one file take effect one after the other, as they do on a
    // real file system (the page cache is one truth): run concurrently here, a sync could
    // write a record back after a truncate had cut it off, which no disk would show.
    let last: Promise<unknown> = Promise.resolve()
    const serial = <T>(operation: () => Promise<T>): Promise<T> => {
      const next = last.then(operation, operation)
      last = next.catch(() => undefined)
      return next
    }
    return {
      path,
      read: async (buffer, offset, length, position) => overlay(buffer, offset, length, position, await file.read(buffer, offset, length, position)),
      readSync: (buffer, offset, length, position) => overlay(buffer, offset, length, position, file.readSync(buffer, offset, length, position)),
      write: async (buffers, position) => {
        const bytes = Buffer.concat([...buffers])
        writes().push({position, bytes})
        return bytes.length
      },
      datasync: () =>
        serial(async () => {
          // The writes made before the sync began become durable; later ones stay pending.
          const syncing = [...(this.pending.get(path) ?? [])]
          for (const write of syncing) await file.write([write.bytes], write.position)
          const rest = (this.pending.get(path) ?? []).filter((write) => !syncing.includes(write))
          if (rest.length > 0) this.pending.set(path, rest)
          else this.pending.delete(path)
          this.datasyncs.set(suffix, (this.datasyncs.get(suffix) ?? 0) + 1)
          await file.datasync()
        }),
      truncate: (length) =>
        serial(async () => {
          const list = (this.pending.get(path) ?? []).filter((write) => write.position < length)
          for (const write of list) if (write.position + write.bytes.length > length) write.bytes = write.bytes.subarray(0, length - write.position)
          this.pending.set(path, list)
          await file.truncate(Math.min(length, await file.size()))
        }),
      size: async () => {
        let size = await file.size()
        for (const write of this.pending.get(path) ?? []) size = Math.max(size, write.position + write.bytes.length)
        return size
      },
      close: () => file.close(),
    }
  }

  readFile = async (path: string): Promise<Buffer> => {
    const bytes = await this.inner.readFile(path)
    const writes = this.pending.get(path) ?? []
    let size = bytes.length
    for (const write of writes) size = Math.max(size, write.position + write.bytes.length)
    const out = Buffer.alloc(size)
    bytes.copy(out)
    for (const write of writes) write.bytes.copy(out, write.position)
    return out
  }
  rename = (fromPath: string, toPath: string): Promise<void> => {
    const writes = this.pending.get(fromPath)
    if (writes !== undefined) {
      this.pending.delete(fromPath)
      this.pending.set(toPath, writes)
    }
    return this.inner.rename(fromPath, toPath)
  }
  unlink = (path: string): Promise<void> => {
    this.pending.delete(path)
    return this.inner.unlink(path)
  }
  list = (dir: string): Promise<string[]> => this.inner.list(dir)
  mkdir = (dir: string): Promise<void> => this.inner.mkdir(dir)
  removeDir = (dir: string): Promise<void> => {
    for (const path of [...this.pending.keys()]) if (path.startsWith(`${dir}/`)) this.pending.delete(path)
    return this.inner.removeDir(dir)
  }
  syncDir = (dir: string): Promise<void> => this.inner.syncDir(dir)
}
