// The client's TLS settings (client/tls.ts): from paths, from DYN_TLS_*; a certificate and
// its key together; files that cannot be read or are not PEM refused with a usage error
// naming the flag and the variable.
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {clientTls, readClientTls, TlsFileError, tlsFromEnvironment} from '../../src/client/index.js'

const certificate = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
const key = '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n'

let dir: string
const path = (name: string): string => join(dir, name)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-client-tls-'))
  await writeFile(path('ca.pem'), certificate)
  await writeFile(path('client.pem'), certificate)
  await writeFile(path('client-key.pem'), key)
  await writeFile(path('text.txt'), 'hello\n')
  await writeFile(path('locked.pem'), '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n')
})

afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

function refusal(run: () => unknown): TlsFileError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(TlsFileError)
    expect((error as TlsFileError).exitCode).toBe(2)
    return error as TlsFileError
  }
  throw new Error('not refused')
}

describe('client TLS settings', () => {
  it('are plaintext without paths, a CA alone, or a CA with a certificate and key', () => {
    expect(readClientTls({})).toBeUndefined()
    expect(readClientTls({ca: '', cert: undefined})).toBeUndefined()
    expect(readClientTls({ca: path('ca.pem')})?.ca?.toString()).toBe(certificate)
    expect(Object.keys(readClientTls({ca: path('ca.pem'), cert: path('client.pem'), key: path('client-key.pem')}) ?? {})).toEqual(['ca', 'cert', 'key'])
  })

  it('come from DYN_TLS_CA, DYN_TLS_CERT and DYN_TLS_KEY unless given', () => {
    const env = {DYN_TLS_CA: path('ca.pem'), DYN_TLS_CERT: path('client.pem'), DYN_TLS_KEY: path('client-key.pem')}
    expect(tlsFromEnvironment(env)?.key?.toString()).toBe(key)
    expect(tlsFromEnvironment({})).toBeUndefined()
    const given = {ca: Buffer.from('given')}
    expect(clientTls(given)).toBe(given)
  })

  it('refuse a key without its certificate, unreadable files, text that is not PEM and an encrypted key', () => {
    expect(refusal(() => readClientTls({key: path('client-key.pem')})).message).toBe('--tls-cert (DYN_TLS_CERT): is missing, and --tls-key (DYN_TLS_KEY) is given')
    expect(refusal(() => readClientTls({cert: path('client.pem')})).message).toMatch(/^--tls-key \(DYN_TLS_KEY\): is missing/)
    expect(refusal(() => readClientTls({ca: path('none.pem')})).message).toMatch(/^--tls-ca \(DYN_TLS_CA\): .*none\.pem cannot be read \(ENOENT\)/)
    expect(refusal(() => readClientTls({ca: path('text.txt')})).message).toMatch(/is not a PEM CA certificate/)
    expect(refusal(() => readClientTls({cert: path('client.pem'), key: path('client.pem')})).message).toMatch(/^--tls-key .*is not a PEM private key/)
    expect(refusal(() => readClientTls({cert: path('client.pem'), key: path('locked.pem')})).message).toMatch(/encrypted with a passphrase/)
  })
})
