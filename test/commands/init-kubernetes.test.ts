// `dyn init --template kubernetes` (initTemplate, in process): the flags it takes, their
// defaults, and the refusals that name the flag to change.
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DynError} from '../../src/core/errors.js'
import {initTemplate, type InitFlags} from '../../src/commands/init.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-init-kubernetes-'))
})

afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

let runs = 0
function kubernetes(flags: Omit<InitFlags, 'out'>) {
  runs++
  return initTemplate({template: 'kubernetes', flags: {...flags, out: join(dir, String(runs))}, force: false})
}

describe('dyn init --template kubernetes', () => {
  it('writes the manifests with the defaults: 3 pods in default, N/R/W 3/2/2, the image of this version', async () => {
    const result = await kubernetes({})
    expect(result.path.endsWith('kubernetes.yaml')).toBe(true)
    const text = await readFile(result.path, 'utf8')
    expect(text).toContain('  replicas: 3\n')
    expect(text).toContain('  namespace: default\n')
    expect(text).toMatch(/image: "dyn:\d+\.\d+\.\d+"/)
    expect(text).toContain('storage: 10Gi')
    expect(text).toContain('"n": 3,')
    expect(result.next.join('\n')).toContain('create secret generic dyn-secret')
    // The secret comes from a file, so only the admin port warns.
    expect(result.warnings).toEqual([expect.stringContaining('HTTP admin port listens on 0.0.0.0:8001')])
  })

  it('fits N, R and W to fewer pods, and takes the other flags', async () => {
    const result = await kubernetes({replicas: 2, namespace: 'store', cluster: 'orders', image: 'registry.example/dyn:0.1.0', storage: '50Gi', partitions: 128, sync: 'none'})
    const text = await readFile(result.path, 'utf8')
    for (const expected of ['"n": 2,', '"r": 2,', '"w": 2,', '"partitions": 128,', '"sync": "none",', 'name: orders-peers', 'orders-1.orders-peers.store.svc.cluster.local:7001', 'storage: 50Gi']) expect(text).toContain(expected)
  })

  it.each<[string, Omit<InitFlags, 'out'>, RegExp]>([
    ['a cluster name no Service can have', {cluster: 'Dyn_1'}, /^--cluster: "Dyn_1" is not allowed/],
    ['a cluster name too long for a StatefulSet', {cluster: 'a'.repeat(41)}, /^--cluster: .* is longer than 40 characters/],
    ['a namespace that is no DNS label', {namespace: 'my.ns'}, /^--namespace: /],
    ['an image with a space', {image: 'dyn latest'}, /^--image: /],
    ['a size in another unit', {storage: '10GB'}, /^--storage: /],
    ['no pod', {replicas: 0}, /^--replicas: 0 is not allowed/],
    ['more replicas per key than pods', {replicas: 2, n: 3}, /the configuration would be invalid: n: 3 must be between 1 and the number of members \(2\) \(set by --n\)/],
    ['a flag of another template', {listen: '10.0.0.1:7001'}, /^--listen: does not apply to --template kubernetes/],
  ])('refuses %s with a usage error', async (_what, flags, message) => {
    const error = await kubernetes(flags).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(error).toBeInstanceOf(DynError)
    expect((error as DynError).exitCode).toBe(2)
    expect((error as Error).message).toMatch(message)
  })
})
