import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import fc from 'fast-check'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {exitCodes} from '../../src/core/errors.js'
import {
  ConfigError,
  ConfigFileError,
  configDefaults,
  configWarnings,
  loadConfig,
  parseConfig,
  type ConfigOverrides,
} from '../../src/daemon/index.js'

const members = [
  {name: 'n1', address: '127.0.0.1:7001'},
  {name: 'n2', address: '127.0.0.1:7002'},
  {name: 'n3', address: '127.0.0.1:7003'},
]
const valid = {name: 'n1', dataDir: '/data/n1', members}

function parse(raw: unknown, overrides: ConfigOverrides = {}) {
  return parseConfig(raw, {baseDir: '/base', overrides})
}

/** Parses, expects a ConfigError on `field` with exit code 2 whose message contains every fragment. */
function refused(raw: unknown, field: string, fragments: readonly string[], overrides: ConfigOverrides = {}): ConfigError {
  let caught: unknown
  try {
    parse(raw, overrides)
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(ConfigError)
  const error = caught as ConfigError
  expect(error.field).toBe(field)
  expect(error.code).toBe('CONFIG_INVALID')
  expect(error.exitCode).toBe(exitCodes.usage)
  expect(error.message.startsWith(`${field}: `)).toBe(true)
  for (const fragment of fragments) expect(error.message).toContain(fragment)
  expect(error.suggestion).toBeTruthy()
  return error
}

describe('parseConfig', () => {
  it('applies the defaults to a minimal file', () => {
    const config = parse(valid)
    expect(config).toMatchObject({
      cluster: configDefaults.cluster,
      name: 'n1',
      listen: configDefaults.listen,
      http: configDefaults.http,
      dataDir: '/data/n1',
      n: 3,
      r: 2,
      w: 2,
      partitions: 64,
      sync: 'always',
      syncMode: {kind: 'always'},
      valueBytesMax: configDefaults.valueBytesMax,
      requestTimeoutMs: configDefaults.requestTimeoutMs,
    })
    expect(config.members.map((member) => member.weight)).toEqual([1, 1, 1])
    expect(config.secret).toBeUndefined()
  })

  it('keeps explicit zero-like and falsy-looking values instead of defaulting them', () => {
    // `??` not `||`: an empty secret is refused rather than silently dropped.
    refused({...valid, secret: ''}, 'secret', ['0 characters'])
  })

  it('resolves a relative dataDir against the file folder, a relative --data-dir against cwd', () => {
    expect(parse({...valid, dataDir: 'data'}).dataDir).toBe('/base/data')
    expect(parseConfig(valid, {baseDir: '/base', cwd: '/cwd', overrides: {dataDir: 'flagdir'}}).dataDir).toBe('/cwd/flagdir')
  })

  it('lets flags override every field of the file', () => {
    const config = parse(
      {...valid, cluster: 'file', listen: {host: '127.0.0.1', port: 7001}, http: {host: '127.0.0.1', port: 8001}, partitions: 32, sync: 'none'},
      {
        name: 'a',
        host: '127.0.0.2',
        port: 9001,
        httpHost: '127.0.0.3',
        httpPort: 9101,
        dataDir: '/flag',
        peers: 'b@127.0.0.1:9002,c@127.0.0.1:9003',
        cluster: 'flagged',
        n: 2,
        r: 1,
        w: 2,
        partitions: 128,
        sync: 'interval:50',
      },
    )
    expect(config).toMatchObject({
      name: 'a',
      cluster: 'flagged',
      listen: {host: '127.0.0.2', port: 9001},
      http: {host: '127.0.0.3', port: 9101},
      dataDir: '/flag',
      n: 2,
      r: 1,
      w: 2,
      partitions: 128,
      sync: 'interval:50',
      syncMode: {kind: 'interval', intervalMs: 50},
    })
    expect(config.members).toEqual([
      {name: 'a', address: '127.0.0.2:9001', weight: 1},
      {name: 'b', address: '127.0.0.1:9002', weight: 1},
      {name: 'c', address: '127.0.0.1:9003', weight: 1},
    ])
  })

  it('without members, the node is a cluster of one at its listen address', () => {
    const config = parse({name: 'solo', dataDir: '/d', n: 1, r: 1, w: 1, listen: {port: 7100}})
    expect(config.members).toEqual([{name: 'solo', address: '127.0.0.1:7100', weight: 1}])
  })

  it('refuses each kind of invalid field, naming the field, the value and what is allowed', () => {
    refused({...valid, partitions: 100}, 'partitions', ['100 is not allowed', 'power of two from 8 to 4096'])
    refused({...valid, r: 4}, 'r', ['4 must be between 1 and n=3'])
    refused({...valid, w: 0}, 'w', ['0 must be between 1 and n=3'])
    refused({...valid, n: 4}, 'n', ['4 must be between 1 and the number of members (3)'])
    refused({...valid, name: 'n9'}, 'name', ['"n9" is not one of members (n1, n2, n3)'])
    refused({...valid, sync: 'sometimes'}, 'sync', ['"sometimes" is not allowed', 'always', 'interval:MS', 'none'])
    refused({...valid, sync: 'interval:0'}, 'sync', ['interval:0'])
    refused({...valid, listen: {port: 0}}, 'listen.port', ['0 must be a port number from 1 to 65535'])
    refused({...valid, http: {port: 70000}}, 'http.port', ['70000 must be a port number from 1 to 65535'])
    refused({...valid, listen: {host: ''}}, 'listen.host', ['is not a host'])
    refused({...valid, members: [...members, {name: 'n1', address: '127.0.0.1:7009'}]}, 'members', ['"n1" is listed twice'])
    refused({...valid, members: [...members, {name: 'n4', address: '127.0.0.1:7001'}]}, 'members', ['address 127.0.0.1:7001 is listed twice'])
    refused({...valid, members: [{name: 'n1', address: '127.0.0.1'}]}, 'members[0].address', ['"127.0.0.1" is not an address', 'host:port'])
    refused({...valid, members: [{name: 'n1', address: '127.0.0.1:7001', weight: 0}]}, 'members[0].weight', ['0 must be an integer from 1 to 1000'])
    refused({...valid, members: [{name: 'n 1', address: '127.0.0.1:7001'}]}, 'members[0].name', ['"n 1" is not allowed'])
    refused({...valid, members: []}, 'members', ['is not a list of members'])
    refused({...valid, cluster: 'a b'}, 'cluster', ['"a b" is not allowed', 'letters, digits'])
    refused({...valid, valueBytesMax: -1}, 'valueBytesMax', ['-1 must be an integer from 1 to'])
    refused({...valid, requestTimeoutMs: 1.5}, 'requestTimeoutMs', ['1.5 must be an integer from 1 to 60000'])
    refused({...valid, secret: 'short'}, 'secret', ['5 characters is not allowed', '16 to 1024 characters'])
    refused({members}, 'name', ['is missing'])
    refused({name: 'n1', members}, 'dataDir', ['is missing'])
    refused({...valid, dataDir: 3}, 'dataDir', ['3 is not a path'])
    refused([], 'configuration', ['is not a JSON object'])
  })

  it('refuses unknown fields at every level, so a typo is never ignored', () => {
    refused({...valid, partitons: 64}, 'partitons', ['unknown field', 'partitons', 'allowed fields are'])
    refused({...valid, listen: {host: '127.0.0.1', prot: 7001}}, 'listen.prot', ['unknown field in listen: prot'])
    refused({...valid, members: [{name: 'n1', address: '127.0.0.1:7001', wieght: 2}]}, 'members[0].wieght', ['unknown field'])
  })

  it('refuses bad flag values the same way', () => {
    refused(valid, 'partitions', ['12 is not allowed'], {partitions: 12})
    refused(valid, 'r', ['5 must be between 1 and n=3'], {r: 5})
    refused(valid, 'peers', ['"n2" is not NAME@HOST:PORT'], {peers: 'n2'})
    refused(valid, 'peers', ['is not an address'], {peers: 'n2@127.0.0.1:99999'})
    refused(valid, 'members', ['"n1" is listed twice'], {peers: 'n1@127.0.0.1:7009'})
  })

  it('accepts every allowed partition count and refuses every other integer in range', () => {
    fc.assert(
      fc.property(fc.integer({min: -10, max: 5000}), (q) => {
        const allowed = q >= 8 && q <= 4096 && (q & (q - 1)) === 0
        if (allowed) expect(parse({...valid, partitions: q}).partitions).toBe(q)
        else expect(() => parse({...valid, partitions: q})).toThrow(ConfigError)
      }),
      {numRuns: 300},
    )
  })
})

describe('configWarnings', () => {
  it('refuses a non-loopback listener without a secret or TLS, and warns loudly when --insecure allows it', () => {
    expect(() => parse({...valid, listen: {host: '0.0.0.0', port: 7001}})).toThrow(/listen\.host: 0\.0\.0\.0 is not a loopback address, and the node has neither a cluster secret nor TLS/)
    const open = parse({...valid, listen: {host: '0.0.0.0', port: 7001}}, {insecure: true})
    expect(configWarnings(open).join('\n')).toMatch(/WARNING: insecure: listening on 0\.0\.0\.0:7001.*without a cluster secret or TLS/)
    const secured = parse({...valid, listen: {host: '0.0.0.0', port: 7001}, secret: 'a-long-enough-cluster-secret'})
    expect(configWarnings(secured).join('\n')).not.toContain('without a cluster secret')
    expect(configWarnings(parse(valid))).toEqual([])
  })
})

describe('loadConfig', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dyn-config-'))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('reads the file, resolves dataDir next to it and applies flags over it', async () => {
    const path = join(dir, 'node.json')
    await writeFile(path, JSON.stringify({...valid, dataDir: 'data', r: 1}))
    const config = await loadConfig({configPath: path, overrides: {r: 3, w: 3}})
    expect(config.dataDir).toBe(join(dir, 'data'))
    expect([config.r, config.w]).toEqual([3, 3])
  })

  it('refuses a missing or non-JSON file with exit code 2', async () => {
    await expect(loadConfig({configPath: join(dir, 'absent.json')})).rejects.toMatchObject({code: 'CONFIG_UNREADABLE', exitCode: 2, message: expect.stringContaining('ENOENT')})
    const path = join(dir, 'bad.json')
    await writeFile(path, '{"name": "n1",')
    const error = await loadConfig({configPath: path}).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigFileError)
    expect((error as ConfigFileError).message).toContain('is not valid JSON')
    expect((error as ConfigFileError).exitCode).toBe(2)
  })

  it('works from flags alone', async () => {
    const config = await loadConfig({overrides: {name: 'solo', dataDir: join(dir, 'd'), n: 1, r: 1, w: 1}})
    expect(config.members).toHaveLength(1)
    expect(config.dataDir).toBe(join(dir, 'd'))
  })
})
