import {afterEach, describe, expect, it} from 'vitest'
import {PartitionFilter} from '../../src/net/faults.js'
import {TimeoutError} from '../../src/net/errors.js'
import {cluster, Tracker} from './harness.js'

const tracker = new Tracker()
afterEach(() => tracker.cleanup())

describe('partition filter', () => {
  it('keeps a sorted set of cut nodes and heals them all', () => {
    const filter = new PartitionFilter()
    filter.cut(['n3', 'n2'])
    expect(filter.dropsTrafficWith('n2')).toBe(true)
    expect(filter.dropsTrafficWith('n1')).toBe(false)
    expect(filter.cutNodes()).toEqual(['n2', 'n3'])
    filter.heal()
    expect(filter.cutNodes()).toEqual([])
  })

  it('drops traffic with a cut node so requests time out, and flows again after heal', async () => {
    const faults = new PartitionFilter()
    const {server, port} = await tracker.server({name: 'n1', faults})
    server.handle('ping', () => 'pong')
    const peer = await tracker.client(port, {identity: {cluster, role: 'node', name: 'n2'}})
    const client = await tracker.client(port)
    faults.cut(['n2'])
    await expect(peer.request('ping', null, {timeoutMs: 30})).rejects.toBeInstanceOf(TimeoutError)
    expect(await client.request('ping', null)).toBe('pong') // clients are never cut off
    faults.heal()
    expect(await peer.request('ping', null)).toBe('pong')
  })

  it('drops on the sending side too', async () => {
    const faults = new PartitionFilter()
    const {server, port} = await tracker.server({name: 'n1'})
    let handled = 0
    server.handle('ping', () => ++handled)
    const peer = await tracker.client(port, {identity: {cluster, role: 'node', name: 'n2'}, faults})
    faults.cut(['n1'])
    await expect(peer.request('ping', null, {timeoutMs: 30})).rejects.toBeInstanceOf(TimeoutError)
    faults.heal()
    expect(await peer.request('ping', null)).toBe(1) // the cut request never reached n1
  })
})
