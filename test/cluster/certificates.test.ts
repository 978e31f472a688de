// The development CA of `dyn init --tls` (src/cluster/certificates.ts): a CA made once and
// reused, certificates for a node's addresses that chain to it, keys mode 0600, and a clear
// error when openssl is missing.
import {X509Certificate} from 'node:crypto'
import {mkdtemp, readFile, rm, stat, unlink} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ensureCertificateAuthority, issueCertificate, OpensslMissingError, subjectAltNames} from '../../src/cluster/certificates.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-certificates-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('the development CA', () => {
  it('signs certificates for the addresses given, usable to serve and to connect, keys mode 0600', async () => {
    const ca = await ensureCertificateAuthority(dir, 'prod')
    expect(ca.created).toBe(true)
    expect((await ensureCertificateAuthority(dir, 'prod')).created).toBe(false)
    const node = await issueCertificate({ca, dir, file: 'n1', name: 'n1', hosts: ['10.0.0.1', 'db.example', '127.0.0.1', '[::1]']})
    const cert = new X509Certificate(await readFile(node.certPath))
    const authority = new X509Certificate(await readFile(ca.certPath))
    expect(cert.verify(authority.publicKey)).toBe(true)
    expect(cert.checkIssued(authority)).toBe(true)
    expect(authority.ca).toBe(true)
    expect(cert.subjectAltName).toBe('IP Address:10.0.0.1, DNS:db.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1')
    for (const key of [ca.keyPath, node.keyPath]) expect((await stat(key)).mode & 0o777).toBe(0o600)
  })

  it('refuses half a CA rather than making another', async () => {
    await unlink(join(dir, 'ca-key.pem'))
    await expect(ensureCertificateAuthority(dir, 'prod')).rejects.toMatchObject({code: 'CA_INCOMPLETE'})
  })

  it('says to install openssl when it cannot be run', async () => {
    const path = process.env['PATH']
    process.env['PATH'] = join(dir, 'nothing-here')
    try {
      const error = await ensureCertificateAuthority(join(dir, 'other'), 'prod').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(OpensslMissingError)
      expect((error as OpensslMissingError).suggestion).toMatch(/apt-get install openssl/)
    } finally {
      process.env['PATH'] = path
    }
  })

  it('writes IP names as IP and the rest as DNS, once each', () => {
    expect(subjectAltNames(['10.0.0.1', 'localhost', '10.0.0.1', '[fd00::1]'])).toBe('IP:10.0.0.1,DNS:localhost,IP:fd00::1')
  })
})
