// A full-screen view on a terminal with plain ANSI (ECMA-48 / xterm control sequences), for
// `dyn top`: the alternate screen (so the shell's screen comes back untouched), no cursor,
// keys read one at a time, and everything restored on the way out, whichever way that is:
// `q`, Ctrl-C (a key in raw mode, SIGINT otherwise), SIGTERM, SIGHUP, or an error.
//
//   start   enter the alternate screen, hide the cursor, raw keys, signal handlers
//   draw    home the cursor, write each line and clear to its end, clear below the last
//   stop    undo all of start, in reverse; idempotent

const escape = '\x1b['
const enterAlternateScreen = `${escape}?1049h`
const leaveAlternateScreen = `${escape}?1049l`
const hideCursor = `${escape}?25l`
const showCursor = `${escape}?25h`
const home = `${escape}H`
const clearToLineEnd = `${escape}K`
const clearBelow = `${escape}J`
const resetStyle = `${escape}0m`

/** Keys that quit: q, Q, and Ctrl-C (ETX), which raw mode delivers as a byte. */
const quitKeys = new Set(['q', 'Q', '\x03'])

const quitSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** A terminal that reports no size (a pty nobody sized) is drawn at 80 × 24. */
const columnsDefault = 80
const rowsDefault = 24

export interface ScreenStreams {
  readonly input: NodeJS.ReadStream
  readonly output: NodeJS.WriteStream
}

export class LiveScreen {
  private started = false
  private readonly cleanups: (() => void)[] = []

  constructor(private readonly streams: ScreenStreams) {}

  get size(): {columns: number; rows: number} {
    const {columns, rows} = this.streams.output
    return {columns: columns > 0 ? columns : columnsDefault, rows: rows > 0 ? rows : rowsDefault}
  }

  /** Takes the terminal over; `onQuit` is called (once or more) when the person asks to quit,
   * `onResize` when the terminal changes size. */
  start(handlers: {onQuit: () => void; onResize: () => void}): void {
    if (this.started) return
    this.started = true
    const {input, output} = this.streams
    output.write(enterAlternateScreen + hideCursor)
    // Should the process end without stop() (an uncaught error), the terminal still comes back.
    const onExit = (): void => this.stop()
    process.once('exit', onExit)
    this.cleanups.push(() => process.removeListener('exit', onExit))
    for (const signal of quitSignals) {
      const onSignal = (): void => handlers.onQuit()
      process.on(signal, onSignal)
      this.cleanups.push(() => process.removeListener(signal, onSignal))
    }
    output.on('resize', handlers.onResize)
    this.cleanups.push(() => output.removeListener('resize', handlers.onResize))
    if (input.isTTY === true) {
      input.setRawMode(true)
      const onData = (data: Buffer | string): void => {
        if ([...data.toString()].some((key) => quitKeys.has(key))) handlers.onQuit()
      }
      input.on('data', onData)
      input.resume()
      this.cleanups.push(() => {
        input.removeListener('data', onData)
        input.setRawMode(false)
        input.pause()
      })
    }
  }

  draw(lines: readonly string[]): void {
    if (!this.started) return
    this.streams.output.write(`${home}${lines.map((line) => `${line}${resetStyle}${clearToLineEnd}`).join('\r\n')}${clearBelow}`)
  }

  stop(): void {
    if (!this.started) return
    this.started = false
    for (const cleanup of this.cleanups.splice(0).reverse()) cleanup()
    this.streams.output.write(resetStyle + showCursor + leaveAlternateScreen)
  }
}
