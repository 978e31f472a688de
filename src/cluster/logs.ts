// The last lines of a node's log, shown when it fails to start.
import {open} from 'node:fs/promises'

/** Bytes read from the end of a log: enough for a stack trace and the lines before it. */
export const logTailBytesMax = 8 * 1024

/** Lines shown: an error and its context, short enough to read in a terminal. */
export const logTailLinesMax = 20

export async function readLogTail(path: string): Promise<string> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch {
    return ''
  }
  try {
    const {size} = await handle.stat()
    const length = Math.min(size, logTailBytesMax)
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, size - length)
    return buffer.toString('utf8').split('\n').slice(-logTailLinesMax - 1).join('\n')
  } finally {
    await handle.close()
  }
}
