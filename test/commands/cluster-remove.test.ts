// `dyn cluster remove NODE --force` on real processes against a stubbed node (a NetServer in
// this process): refused without --force, staged with it. (The node's own refusals, an
// unknown member or the last one, are tested in test/core/membership.test.ts and reach the
// command like those of `leave`.)
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {NetServer} from '../../src/net/index.js'
import {planText} from '../../src/cluster/membership.js'
import {dyn, json} from './helpers.js'

let stub: NetServer
let stubAddress: string
const stages: unknown[] = []

beforeAll(async () => {
  stub = new NetServer({identity: {cluster: 'dyn', role: 'node', name: 'n1'}})
  stub.handle('admin.stage', (payload) => {
    stages.push(payload)
    return {ok: true, json: JSON.stringify({version: 1, staged: [{name: 'n3', action: 'remove'}], members: []})}
  })
  const {port} = await stub.listen({host: '127.0.0.1', port: 0})
  stubAddress = `127.0.0.1:${port}`
})

afterAll(async () => {
  await stub.destroy()
})

describe('cluster remove', () => {
  it('refuses without --force and stages a forced removal with it', async () => {
    const [unforced, forced] = await Promise.all([
      dyn(['cluster', 'remove', 'n3', '--host', stubAddress, '--json']),
      dyn(['cluster', 'remove', 'n3', '--force', '--host', stubAddress, '--json']),
    ])
    expect(unforced.exitCode).toBe(2)
    expect(json(unforced)).toMatchObject({
      version: 1,
      error: {code: 'FORCE_REQUIRED', exitCode: 2, message: expect.stringContaining('may be lost'), suggestion: expect.stringContaining('dyn cluster leave n3')},
    })
    expect(forced.exitCode).toBe(0)
    expect(json(forced)).toEqual({version: 1, node: 'n3', stagedVia: stubAddress, staged: [{name: 'n3', action: 'remove'}]})
    // Without --force nothing reached the node.
    expect(stages).toEqual([{action: 'remove', name: 'n3'}])
  })

  it('shows the plan of a forced removal with its warning', () => {
    const text = planText(
      {
        claimant: 'n1',
        baseRingVersion: 3,
        ringVersion: 4,
        transitions: [{name: 'n3', from: 'valid', to: 'left'}],
        transfers: [{partition: 5, from: 'n3', to: 'n4'}],
        warnings: [{kind: 'forced-removal', node: 'n3', partitions: 16}],
      },
      {color: false},
    )
    expect(text).toContain('n3 is removed by force, without handoff: its 16 partitions are reassigned')
    expect(text).toContain('writes held only on n3 may be lost')
  })
})
