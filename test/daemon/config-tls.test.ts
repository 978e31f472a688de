// The node configuration's TLS settings and the refusal of an open listener (DESIGN §11):
// tls paths from the file and from flags, cert and key together, a CA for mutual TLS,
// `insecure`; and readTlsFiles on real files: unreadable, not PEM, encrypted, a key that
// is not the certificate's.
import {chmod, copyFile, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ensureCertificateAuthority, issueCertificate} from '../../src/cluster/certificates.js'
import {exitCodes} from '../../src/core/errors.js'
import {ConfigError, InsecureListenError, parseConfig, readTlsFiles, type ConfigOverrides, type TlsConfig} from '../../src/daemon/index.js'

const valid = {name: 'n1', dataDir: '/data/n1', members: [{name: 'n1', address: '10.0.0.1:7001'}], n: 1, r: 1, w: 1, listen: {host: '10.0.0.1', port: 7001}}

function parse(raw: Record<string, unknown>, overrides: ConfigOverrides = {}) {
  return parseConfig(raw, {baseDir: '/etc/dyn', cwd: '/home/op', overrides})
}

function refusal(run: () => unknown): ConfigError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).exitCode).toBe(exitCodes.usage)
    return error as ConfigError
  }
  throw new Error('not refused')
}

describe('tls in the configuration', () => {
  it('resolves file paths against the file’s folder and flag paths against the working folder', () => {
    const config = parse({...valid, tls: {cert: 'n1.pem', key: 'n1-key.pem', ca: '/pki/ca.pem', requireClientCert: true}})
    expect(config.tls).toEqual({cert: '/etc/dyn/n1.pem', key: '/etc/dyn/n1-key.pem', ca: '/pki/ca.pem', requireClientCert: true})
    const flagged = parse({...valid, tls: {cert: 'n1.pem', key: 'n1-key.pem'}}, {tlsKey: 'other-key.pem', tlsCa: 'ca.pem', tlsRequireClientCert: true})
    expect(flagged.tls).toEqual({cert: '/etc/dyn/n1.pem', key: '/home/op/other-key.pem', ca: '/home/op/ca.pem', requireClientCert: true})
    expect(parse({...valid, secret: 'a-long-enough-cluster-secret'}).tls).toBeUndefined()
  })

  it('refuses a key without a certificate, a certificate without a key, client certificates without a CA, and unknown fields', () => {
    expect(refusal(() => parse({...valid, tls: {key: 'k.pem'}}))).toMatchObject({field: 'tls.cert', message: 'tls.cert: is missing, and tls.key is given'})
    expect(refusal(() => parse(valid, {tlsCert: 'c.pem'}))).toMatchObject({field: 'tls.key', message: 'tls.key: is missing, and tls.cert is given'})
    expect(refusal(() => parse({...valid, tls: {ca: 'ca.pem'}})).field).toBe('tls.cert')
    expect(refusal(() => parse({...valid, tls: {cert: 'c.pem', key: 'k.pem', requireClientCert: true}}))).toMatchObject({field: 'tls.ca', suggestion: expect.stringContaining('--tls-ca')})
    expect(refusal(() => parse({...valid, tls: {cert: 'c.pem', key: 'k.pem', requireClientCerts: true}})).field).toBe('tls.requireClientCerts')
    expect(refusal(() => parse({...valid, tls: {cert: '', key: 'k.pem'}})).field).toBe('tls.cert')
    expect(refusal(() => parse({...valid, tls: {cert: 'c.pem', key: 'k.pem', requireClientCert: 'yes'}})).field).toBe('tls.requireClientCert')
  })
})

describe('a listener off loopback', () => {
  it('is refused without a secret or TLS, naming what to do', () => {
    const error = refusal(() => parse(valid))
    expect(error).toBeInstanceOf(InsecureListenError)
    expect(error.field).toBe('listen.host')
    expect(error.suggestion).toMatch(/secretFile.*tls.*--insecure/)
    expect(refusal(() => parse({...valid, insecure: 'true'})).field).toBe('insecure')
  })

  it('is allowed with a secret, a secret file, TLS or insecure, and loopback always is', () => {
    expect(parse({...valid, secret: 'a-long-enough-cluster-secret'}).insecure).toBe(false)
    expect(parse({...valid, secretFile: 'secret'}).secretFile).toBe('/etc/dyn/secret')
    expect(parse({...valid, tls: {cert: 'c.pem', key: 'k.pem'}}).tls?.cert).toBe('/etc/dyn/c.pem')
    expect(parse({...valid, insecure: true}).insecure).toBe(true)
    expect(parse(valid, {insecure: true}).insecure).toBe(true)
    expect(parse({...valid, members: [{name: 'n1', address: '127.0.0.1:7001'}], listen: {host: '127.0.0.1', port: 7001}}).insecure).toBe(false)
  })
})

describe('readTlsFiles', () => {
  let dir: string
  let good: TlsConfig
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dyn-config-tls-'))
    const ca = await ensureCertificateAuthority(dir, 'test')
    const node = await issueCertificate({ca, dir, file: 'n1', name: 'n1', hosts: ['127.0.0.1']})
    await issueCertificate({ca, dir, file: 'n2', name: 'n2', hosts: ['127.0.0.1']})
    good = {cert: node.certPath, key: node.keyPath, ca: ca.certPath, requireClientCert: true}
  })
  afterAll(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  async function refused(tls: TlsConfig): Promise<ConfigError> {
    const error = await readTlsFiles(tls).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    return error as ConfigError
  }

  it('reads a certificate, its key and the CA', async () => {
    const files = await readTlsFiles(good)
    expect(files.cert.toString()).toContain('BEGIN CERTIFICATE')
    expect(files.requireClientCert).toBe(true)
  })

  it('refuses an unreadable file, a file that is not PEM, an encrypted key and another certificate’s key', async () => {
    expect(await refused({...good, ca: join(dir, 'none.pem')})).toMatchObject({field: 'tls.ca', message: expect.stringMatching(/none\.pem cannot be read \(ENOENT\)/)})
    await writeFile(join(dir, 'text.pem'), 'not a certificate\n')
    expect(await refused({...good, cert: join(dir, 'text.pem')})).toMatchObject({field: 'tls.cert', message: expect.stringContaining('is not a PEM certificate')})
    expect(await refused({...good, key: good.cert})).toMatchObject({field: 'tls.key', message: expect.stringContaining('is not a PEM private key')})
    await writeFile(join(dir, 'locked.pem'), '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n')
    expect(await refused({...good, key: join(dir, 'locked.pem')})).toMatchObject({field: 'tls.key', message: expect.stringContaining('encrypted with a passphrase')})
    expect(await refused({...good, key: join(dir, 'n2-key.pem')})).toMatchObject({field: 'tls.key', message: expect.stringContaining('is not the key of the certificate')})
    if (process.getuid?.() !== 0) {
      await copyFile(good.key, join(dir, 'private.pem'))
      await chmod(join(dir, 'private.pem'), 0o000)
      expect(await refused({...good, key: join(dir, 'private.pem')})).toMatchObject({message: expect.stringContaining('EACCES')})
    }
  })
})
