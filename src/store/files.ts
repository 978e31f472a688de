// The store's only door to the file system. Kept narrow on purpose: tests wrap it to
// count syncs or inject faults such as ENOSPC, and everything the store does to disk is
// visible here. Positioned reads and writes on raw descriptors (pread/pwritev) with the
// callback API: they cost less per call than fs/promises file handles on the get path.
import * as fs from 'node:fs'

export interface StoreFile {
  readonly path: string
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; resolves with bytes read. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>
  /** The same read, blocking the calling thread: cheaper than a thread-pool round trip when the page is cached. */
  readSync(buffer: Buffer, offset: number, length: number, position: number): number
  /** Writes the buffers in order at `position`; resolves with bytes written, which may be short. */
  write(buffers: readonly Buffer[], position: number): Promise<number>
  /** The same write on the calling thread (optional): a log append lands in the page cache in
   * microseconds, less than handing it to the thread pool and back, which under load also
   * costs the event loop a context switch per write. */
  writeSync?(buffers: readonly Buffer[], position: number): number
  /** Makes written data durable (fdatasync). */
  datasync(): Promise<void>
  truncate(length: number): Promise<void>
  size(): Promise<number>
  close(): Promise<void>
}

/** `create`: a new file opened for reading and writing, failing if it exists. */
export type OpenMode = 'create' | 'read' | 'readWrite'

export interface StoreFiles {
  open(path: string, mode: OpenMode): Promise<StoreFile>
  readFile(path: string): Promise<Buffer>
  rename(fromPath: string, toPath: string): Promise<void>
  /** Removes a file; a missing file is not an error (recovery replays removals). */
  unlink(path: string): Promise<void>
  /** File names in a directory; a missing directory lists as empty. */
  list(dir: string): Promise<string[]>
  /** Creates a directory and its parents; an existing one is fine. */
  mkdir(dir: string): Promise<void>
  removeDir(dir: string): Promise<void>
  /** Makes renames, creations and removals in `dir` durable. */
  syncDir(dir: string): Promise<void>
}

const openFlags: Record<OpenMode, string> = {create: 'wx+', read: 'r', readWrite: 'r+'}

function settle<T>(resolve: (value: T) => void, reject: (error: unknown) => void) {
  return (error: NodeJS.ErrnoException | null, value: T): void => {
    if (error === null) resolve(value)
    else reject(error)
  }
}

class NodeFile implements StoreFile {
  constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => fs.read(this.fd, buffer, offset, length, position, settle(resolve, reject)))
  }

  readSync(buffer: Buffer, offset: number, length: number, position: number): number {
    return fs.readSync(this.fd, buffer, offset, length, position)
  }

  write(buffers: readonly Buffer[], position: number): Promise<number> {
    return new Promise((resolve, reject) => fs.writev(this.fd, buffers, position, settle(resolve, reject)))
  }

  writeSync(buffers: readonly Buffer[], position: number): number {
    return fs.writevSync(this.fd, buffers, position)
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (error) => (error === null ? resolve() : reject(error))))
  }

  truncate(length: number): Promise<void> {
    return new Promise((resolve, reject) =>
      fs.ftruncate(this.fd, length, (error) => (error === null ? resolve() : reject(error))),
    )
  }

  size(): Promise<number> {
    return new Promise((resolve, reject) => fs.fstat(this.fd, (error, stats) => (error === null ? resolve(stats.size) : reject(error))))
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => fs.close(this.fd, (error) => (error === null ? resolve() : reject(error))))
  }
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT'
}

/** The real file system. */
export const nodeFiles: StoreFiles = {
  async open(path, mode) {
    const fd = await new Promise<number>((resolve, reject) => fs.open(path, openFlags[mode], 0o644, settle(resolve, reject)))
    return new NodeFile(path, fd)
  },
  readFile: (path) => fs.promises.readFile(path),
  rename: (fromPath, toPath) => fs.promises.rename(fromPath, toPath),
  async unlink(path) {
    try {
      await fs.promises.unlink(path)
    } catch (error) {
      if (!isMissing(error)) throw error
    }
  },
  async list(dir) {
    try {
      return await fs.promises.readdir(dir)
    } catch (error) {
      if (isMissing(error)) return []
      throw error
    }
  },
  async mkdir(dir) {
    await fs.promises.mkdir(dir, {recursive: true})
  },
  removeDir: (dir) => fs.promises.rm(dir, {recursive: true, force: true}),
  async syncDir(dir) {
    const handle = await fs.promises.open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  },
}

/**
 * Writes all buffers at `position`, continuing after short writes; resolves with the byte
 * count. `onThisThread`: write on the calling thread when the file can (StoreFile.writeSync),
 * for appends to the logs, whose durability comes from a sync that follows.
 */
export async function writeAll(file: StoreFile, buffers: readonly Buffer[], position: number, options: {onThisThread?: boolean} = {}): Promise<number> {
  const writeSync = options.onThisThread === true ? file.writeSync?.bind(file) : undefined
  const write = (chunks: readonly Buffer[], at: number): number | Promise<number> => (writeSync === undefined ? file.write(chunks, at) : writeSync(chunks, at))
  let total = 0
  for (const buffer of buffers) total += buffer.length
  let done = await write(buffers, position)
  while (done < total) {
    const written = await write(remainingBuffers(buffers, done), position + done)
    if (written === 0) throw Object.assign(new Error(`short write to ${file.path}`), {code: 'EIO'})
    done += written
  }
  return total
}

function remainingBuffers(buffers: readonly Buffer[], skipBytes: number): Buffer[] {
  const rest: Buffer[] = []
  let skip = skipBytes
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length
      continue
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer)
    skip = 0
  }
  return rest
}
