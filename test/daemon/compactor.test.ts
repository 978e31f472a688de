// The compactor's schedule: back-to-back while partitions have bytes to reclaim, every
// compactionCheckIntervalMs otherwise; failures counted every time, logged once a minute.
import {describe, expect, it} from 'vitest'
import {DiskFullError} from '../../src/store/index.js'
import {Compactor, compactionCheckIntervalMs} from '../../src/daemon/compactor.js'
import type {CompactionReport} from '../../src/store/index.js'

const report = (segmentsIn: number): CompactionReport => ({segmentsIn, segmentsOut: segmentsIn > 0 ? 1 : 0, bytesIn: segmentsIn * 100, bytesOut: segmentsIn * 10, tombstonesDropped: 0})

describe('Compactor', () => {
  it('goes on at the next tick while there is work, then waits for the interval', async () => {
    let nowMs = 0
    const work = [3, 2, 0]
    let calls = 0
    const compactor = new Compactor({
      compactOne: async () => {
        calls++
        const segments = work.shift() ?? 0
        return segments === 0 ? undefined : {partition: calls, report: report(segments)}
      },
      nowMs: () => nowMs,
      warn: () => {},
    })
    for (let tick = 0; tick < 5; tick++) {
      compactor.tick()
      await compactor.idle()
      nowMs += 100
    }
    expect(calls).toBe(3)
    expect(compactor.compactions).toBe(2)
    expect(compactor.bytesReclaimed).toBe(270 + 180)
    nowMs += compactionCheckIntervalMs
    compactor.tick()
    await compactor.idle()
    expect(calls).toBe(4)
  })

  it('counts every failure and logs one a minute', async () => {
    let nowMs = 0
    const warnings: string[] = []
    const compactor = new Compactor({
      compactOne: () => Promise.reject(new DiskFullError('/data/p-1/0002.data.tmp', undefined)),
      nowMs: () => nowMs,
      warn: (message) => warnings.push(message),
    })
    for (let check = 0; check < 7; check++) {
      compactor.tick()
      await compactor.idle()
      nowMs += compactionCheckIntervalMs
    }
    expect(compactor.failures).toBe(7)
    expect(warnings.length).toBe(2)
    expect(warnings[0]).toMatch(/^store: compaction failed: /)
  })
})
