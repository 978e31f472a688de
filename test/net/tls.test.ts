// TLS on the wire port (DESIGN §11): the hello and requests inside TLS, mutual TLS, and the
// named errors of every mismatch (plaintext against TLS both ways, a missing or foreign
// client certificate, an unknown CA). Certificates come from the same code as
// `dyn init --tls` (src/cluster/certificates.ts), made once for the file.
import {mkdir, mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {ensureCertificateAuthority, issueCertificate} from '../../src/cluster/certificates.js'
import type {TlsClientSettings, TlsServerSettings} from '../../src/net/tls.js'
import {Tracker} from './harness.js'

const tracker = new Tracker()
afterEach(() => tracker.cleanup())

let dir: string
let server: Omit<TlsServerSettings, 'requireClientCert'>
let client: Required<TlsClientSettings>
/** A certificate from another CA: valid, but not the cluster's. */
let stranger: Required<TlsClientSettings>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-tls-'))
  const ca = await ensureCertificateAuthority(dir, 'test')
  const node = await issueCertificate({ca, dir, file: 'n1', name: 'n1', hosts: ['127.0.0.1', 'localhost']})
  const user = await issueCertificate({ca, dir, file: 'client', name: 'client', hosts: []})
  const otherDir = join(dir, 'other')
  await mkdir(otherDir)
  const otherCa = await ensureCertificateAuthority(otherDir, 'other')
  const other = await issueCertificate({ca: otherCa, dir: otherDir, file: 'client', name: 'client', hosts: []})
  const read = (path: string) => readFile(path)
  const caPem = await read(ca.certPath)
  server = {cert: await read(node.certPath), key: await read(node.keyPath), ca: caPem}
  client = {ca: caPem, cert: await read(user.certPath), key: await read(user.keyPath)}
  stranger = {ca: caPem, cert: await read(other.certPath), key: await read(other.keyPath)}
})

afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('TLS', () => {
  it('carries the hello, the secret proof and requests', async () => {
    const secret = new TextEncoder().encode('a-secret-of-more-than-16-characters')
    const {server: net, port} = await tracker.server({tls: {...server, requireClientCert: false}, identity: {cluster: 'test-cluster', role: 'node', name: 'n1', secret}})
    net.handle('ping', () => 'pong')
    const connection = await tracker.client(port, {tls: {ca: client.ca}, identity: {cluster: 'test-cluster', role: 'client', name: 'c', secret}})
    expect(await connection.request('ping', null)).toBe('pong')
  })

  it('tells a plaintext client that the port wants TLS, at once', async () => {
    const {server: net, port, logs} = await tracker.server({tls: {...server, requireClientCert: false}})
    const error = await tracker.client(port).catch((e: unknown) => e)
    expect(error).toMatchObject({code: 'TLS_REQUIRED', suggestion: expect.stringContaining('--tls-ca (DYN_TLS_CA)')})
    await expect.poll(() => net.handshakesFailed).toBe(1)
    expect(logs.some((entry) => entry.message.includes('plaintext to this TLS port'))).toBe(true)
  })

  it('tells a TLS client that the port is plaintext, and logs why on the node', async () => {
    const {port, logs} = await tracker.server()
    const error = await tracker.client(port, {tls: {ca: client.ca}}).catch((e: unknown) => e)
    expect(error).toMatchObject({code: 'TLS_NOT_SERVED', message: expect.stringContaining('does not speak TLS')})
    await expect.poll(() => logs.some((entry) => entry.code === 'TLS_NOT_CONFIGURED')).toBe(true)
  })

  it('refuses a node certificate from an unknown CA', async () => {
    const {port} = await tracker.server({tls: {...server, requireClientCert: false}})
    const error = await tracker.client(port, {tls: {}}).catch((e: unknown) => e)
    expect(error).toMatchObject({code: 'TLS_SERVER_UNTRUSTED', suggestion: expect.stringContaining('--tls-ca')})
  })

  it('with mutual TLS, admits only clients whose certificate the CA signed', async () => {
    const {server: net, port} = await tracker.server({tls: {...server, requireClientCert: true}})
    net.handle('ping', () => 'pong')
    expect(await (await tracker.client(port, {tls: client})).request('ping', null)).toBe('pong')
    const without = await tracker.client(port, {tls: {ca: client.ca}}).catch((e: unknown) => e)
    expect(without).toMatchObject({code: 'TLS_CLIENT_CERT_REQUIRED', suggestion: expect.stringContaining('--tls-cert and --tls-key')})
    const foreign = await tracker.client(port, {tls: stranger}).catch((e: unknown) => e)
    expect(foreign).toMatchObject({code: 'TLS_CLIENT_CERT_REFUSED'})
  })

  it('bounds the connections waiting in their handshake, and serves again once they are gone', async () => {
    const {server: net, port, logs} = await tracker.server({tls: {...server, requireClientCert: false}, connectionsMax: 2, tlsHandshakesPendingMax: 3})
    net.handle('ping', () => 'pong')
    // TCP connections that never start their handshake: 2 + 3 + 1 fit, the next are closed on arrival.
    const silent = await Promise.all(Array.from({length: 6}, () => tracker.raw(port)))
    const over = await tracker.raw(port)
    await Promise.race([over.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the connection over the bound was not closed')), 5_000).unref())])
    await expect.poll(() => net.turnedAway).toBeGreaterThanOrEqual(1)
    expect(logs.some((entry) => entry.code === 'TOO_MANY_HANDSHAKES')).toBe(true)
    for (const peer of silent) expect(peer.socket.destroyed).toBe(false)
    for (const peer of silent) peer.socket.destroy()
    await Promise.all(silent.map((peer) => peer.closed))
    await expect.poll(async () => (await tracker.client(port, {tls: {ca: client.ca}}).then((connection) => connection.request('ping', null), () => 'refused'))).toBe('pong')
  })
})
