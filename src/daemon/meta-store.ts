// The MetaStore port (src/node/ports.ts) on files: each document is one file in
// DATA_DIR/meta/, replaced atomically (write a temporary file, fsync it, rename it over the
// old one, fsync the directory), so a crash leaves the old or the new document, never a
// torn one. A write that fails (a full disk) removes its temporary file, leaves the old
// document in place and rejects with the store's named error (DISK_FULL,
// STORE_WRITE_FAILED), as a failed put does.
import {mkdir, open, readFile, rename, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {DynError} from '../core/errors.js'
import type {MetaStore} from '../node/ports.js'
import {writeErrorFor} from '../store/index.js'

const namePattern = /^[a-z][a-z0-9-]{0,63}$/

export class FileMetaStore implements MetaStore {
  private constructor(private readonly dir: string) {}

  static async open(dataDir: string): Promise<FileMetaStore> {
    const dir = join(dataDir, 'meta')
    await mkdir(dir, {recursive: true})
    return new FileMetaStore(dir)
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.path(name)))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
  }

  async write(name: string, bytes: Uint8Array): Promise<void> {
    const target = this.path(name)
    try {
      await this.replace(target, bytes)
    } catch (error) {
      await rm(`${target}.tmp`, {force: true}).catch(() => undefined)
      throw writeErrorFor(target, error)
    }
  }

  private async replace(target: string, bytes: Uint8Array): Promise<void> {
    const temporary = `${target}.tmp`
    const file = await open(temporary, 'w')
    try {
      await file.writeFile(bytes)
      await file.datasync()
    } finally {
      await file.close()
    }
    await rename(temporary, target)
    const dir = await open(this.dir, 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
  }

  private path(name: string): string {
    if (!namePattern.test(name)) throw new DynError(`invalid document name "${name}"`, {code: 'META_NAME'})
    return join(this.dir, name)
  }
}
