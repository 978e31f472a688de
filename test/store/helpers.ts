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
        if (code === undefined) return file.write(buffers, position)
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
