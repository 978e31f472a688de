// The node configuration as a Kubernetes pod gets it (templates/kubernetes.yaml): one file
// for every pod, the name and the advertised address from flags, the secret from a file.
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import fc from 'fast-check'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {ConfigError, configWarnings, loadConfig, parseConfig, readSecretFile} from '../../src/daemon/index.js'

const peers = 'dyn-peers.default.svc.cluster.local'
const podAddress = (ordinal: number): string => `dyn-${ordinal}.${peers}:7001`
/** The ConfigMap's node.json: no name, listening on every address, members and seeds. */
const shared = {
  cluster: 'dyn',
  listen: {host: '0.0.0.0', port: 7001},
  http: {host: '0.0.0.0', port: 8001},
  dataDir: '/var/lib/dyn',
  members: [0, 1, 2].map((ordinal) => ({name: `dyn-${ordinal}`, address: podAddress(ordinal), weight: 1})),
  seeds: [0, 1, 2].map(podAddress),
  secretFile: '/etc/dyn/secret/secret',
}

function refusedField(attempt: () => unknown): string {
  try {
    attempt()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).field
  }
  throw new Error('expected a ConfigError')
}

describe('advertise', () => {
  it('is taken from the flag over the file, and a first member listed at it gets no warning', () => {
    const config = parseConfig(shared, {baseDir: '/etc/dyn', overrides: {name: 'dyn-1', advertise: podAddress(1)}})
    expect(config).toMatchObject({name: 'dyn-1', advertise: podAddress(1), listen: {host: '0.0.0.0', port: 7001}, secretFile: '/etc/dyn/secret/secret'})
    expect(config.members.map((member) => member.name)).toEqual(['dyn-0', 'dyn-1', 'dyn-2'])
    expect(configWarnings(config).filter((warning) => warning.includes('members lists'))).toEqual([])
    expect(configWarnings(config).some((warning) => warning.includes('without a cluster secret'))).toBe(false)
  })

  it('a pod beyond the first members joins through the seeds at its advertised address', () => {
    const config = parseConfig(shared, {baseDir: '/etc/dyn', overrides: {name: 'dyn-3', advertise: podAddress(3)}})
    expect(config.members.some((member) => member.name === 'dyn-3')).toBe(false)
    expect(config.seeds).toEqual(shared.seeds)
    expect(config.advertise).toBe(podAddress(3))
  })

  it('is this node’s address in the member list it makes for itself (alone, or with --peers)', () => {
    const alone = parseConfig({name: 'solo', dataDir: '/d', n: 1, r: 1, w: 1, listen: {host: '0.0.0.0', port: 7005}, advertise: 'solo.example:7005', insecure: true}, {baseDir: '/'})
    expect(alone.members).toEqual([{name: 'solo', address: 'solo.example:7005', weight: 1}])
    const withPeers = parseConfig({name: 'a', dataDir: '/d', n: 2, r: 1, w: 1, advertise: 'a.example:7001'}, {baseDir: '/', overrides: {peers: 'b@b.example:7001'}})
    expect(withPeers.members.find((member) => member.name === 'a')?.address).toBe('a.example:7001')
    expect(parseConfig({name: 'solo', dataDir: '/d', n: 1, r: 1, w: 1}, {baseDir: '/'}).members[0]?.address).toBe('127.0.0.1:7001')
  })

  it('warns when the member list names this node at another address than it advertises', () => {
    const config = parseConfig(shared, {baseDir: '/', overrides: {name: 'dyn-0', advertise: podAddress(1)}})
    expect(configWarnings(config).some((warning) => warning.includes(`members lists dyn-0 at ${podAddress(0)} but it advertises ${podAddress(1)}`))).toBe(true)
  })

  it.each(['0.0.0.0:7001', '[::]:7001', 'dyn-0', 'dyn-0:0', 'dyn-0:70000', 7001])('refuses %s', (advertise) => {
    expect(refusedField(() => parseConfig({...shared, advertise}, {baseDir: '/', overrides: {name: 'dyn-0'}}))).toBe('advertise')
  })

  it('accepts any host:port that is no wildcard (property)', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/)
    fc.assert(
      fc.property(fc.array(label, {minLength: 1, maxLength: 5}), fc.integer({min: 1, max: 65_535}), (labels, port) => {
        const advertise = `${labels.join('.')}:${port}`
        expect(parseConfig({...shared, advertise}, {baseDir: '/', overrides: {name: 'dyn-0'}}).advertise).toBe(advertise)
      }),
      {numRuns: 100},
    )
  })
})

describe('secretFile', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dyn-secret-file-'))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('resolves against the configuration’s folder, and loadConfig reads the secret without its trailing newline', async () => {
    await writeFile(join(dir, 'secret'), 'a-secret-of-more-than-16-characters\n')
    await writeFile(join(dir, 'node.json'), JSON.stringify({...shared, secretFile: 'secret'}))
    const config = await loadConfig({configPath: join(dir, 'node.json'), overrides: {name: 'dyn-0', advertise: podAddress(0)}})
    expect(config.secretFile).toBe(join(dir, 'secret'))
    expect(config.secret).toBe('a-secret-of-more-than-16-characters')
  })

  it('refuses a missing file, a short secret, and secret and secretFile together', async () => {
    await expect(readSecretFile(join(dir, 'none'))).rejects.toThrow(/secretFile: .*none cannot be read \(ENOENT\)/)
    await writeFile(join(dir, 'short'), 'short\n')
    await expect(readSecretFile(join(dir, 'short'))).rejects.toThrow(/secretFile: a string of 5 characters is not allowed/)
    await writeFile(join(dir, 'empty'), '')
    await expect(readSecretFile(join(dir, 'empty'))).rejects.toThrow(ConfigError)
    expect(refusedField(() => parseConfig({...shared, secret: 'a-secret-of-more-than-16-characters'}, {baseDir: '/', overrides: {name: 'dyn-0'}}))).toBe('secretFile')
    expect(refusedField(() => parseConfig({...shared, secretFile: ''}, {baseDir: '/', overrides: {name: 'dyn-0'}}))).toBe('secretFile')
  })
})
