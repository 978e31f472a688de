// The full-screen terminal of `dyn top` (cli/screen.ts) on fake streams: it takes the
// terminal over, hears q and Ctrl-C, and gives everything back exactly once.
import {EventEmitter} from 'node:events'
import {describe, expect, it} from 'vitest'
import {LiveScreen} from '../../src/cli/screen.js'

class FakeInput extends EventEmitter {
  readonly isTTY = true
  raw: boolean[] = []
  resumed = 0
  paused = 0
  setRawMode(mode: boolean): this {
    this.raw.push(mode)
    return this
  }
  resume(): this {
    this.resumed++
    return this
  }
  pause(): this {
    this.paused++
    return this
  }
}

class FakeOutput extends EventEmitter {
  readonly isTTY = true
  columns = 0
  rows = 0
  written = ''
  write(text: string): boolean {
    this.written += text
    return true
  }
}

function screen(): {input: FakeInput; output: FakeOutput; live: LiveScreen} {
  const input = new FakeInput()
  const output = new FakeOutput()
  return {input, output, live: new LiveScreen({input: input as unknown as NodeJS.ReadStream, output: output as unknown as NodeJS.WriteStream})}
}

describe('LiveScreen', () => {
  it('enters the alternate screen, hides the cursor and reads raw keys; stop undoes it all once', () => {
    const {input, output, live} = screen()
    const listeners = process.listenerCount('SIGINT')
    live.start({onQuit: () => undefined, onResize: () => undefined})
    expect(output.written).toBe('\x1b[?1049h\x1b[?25l')
    expect(input.raw).toEqual([true])
    expect(process.listenerCount('SIGINT')).toBe(listeners + 1)
    live.draw(['a', 'b'])
    expect(output.written.endsWith('\x1b[Ha\x1b[0m\x1b[K\r\nb\x1b[0m\x1b[K\x1b[J')).toBe(true)
    live.stop()
    live.stop()
    expect(output.written.endsWith('\x1b[0m\x1b[?25h\x1b[?1049l')).toBe(true)
    expect(output.written.split('\x1b[?1049l')).toHaveLength(2)
    expect(input.raw).toEqual([true, false])
    expect(input.paused).toBe(1)
    expect(process.listenerCount('SIGINT')).toBe(listeners)
    expect(input.listenerCount('data')).toBe(0)
    // Nothing is drawn once stopped.
    const before = output.written
    live.draw(['c'])
    expect(output.written).toBe(before)
  })

  it('calls onQuit for q, Q and Ctrl-C, not for other keys; onResize when the terminal changes size', () => {
    const {input, output, live} = screen()
    const quits: string[] = []
    let resizes = 0
    live.start({onQuit: () => quits.push('quit'), onResize: () => resizes++})
    for (const key of ['x', 'q', 'Q', '\x03', ' ', Buffer.from('aq')]) input.emit('data', key)
    expect(quits).toHaveLength(4)
    output.emit('resize')
    expect(resizes).toBe(1)
    expect(live.size).toEqual({columns: 80, rows: 24})
    live.stop()
  })
})
