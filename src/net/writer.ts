// Write batching (DESIGN §7): every frame written in one tick of the event loop leaves in
// one socket write. The first write of a tick corks the socket and schedules the uncork
// for the end of the tick (process.nextTick runs after the current callback and its
// promise continuations), so a burst of replies or requests becomes one writev system
// call instead of one per frame. On loopback this is the largest single performance lever.
import type {Socket} from 'node:net'

export interface WriterStats {
  framesWritten: number
  bytesWritten: number
  /** Socket flushes: one per tick with writes when batching, one per frame without. */
  flushes: number
}

export class BatchedWriter {
  private readonly socket: Socket
  private readonly batch: boolean
  private corked = false
  readonly stats: WriterStats = {framesWritten: 0, bytesWritten: 0, flushes: 0}

  constructor(socket: Socket, options: {batch: boolean}) {
    this.socket = socket
    this.batch = options.batch
  }

  write(frame: Uint8Array): void {
    if (this.socket.destroyed || !this.socket.writable) return
    if (this.batch && !this.corked) {
      this.corked = true
      this.socket.cork()
      process.nextTick(() => this.flush())
    }
    this.stats.framesWritten++
    this.stats.bytesWritten += frame.length
    this.socket.write(frame)
    if (!this.batch) this.stats.flushes++
  }

  private flush(): void {
    this.corked = false
    this.stats.flushes++
    this.socket.uncork()
  }
}
