// TLS on the wire port (DESIGN §11, docs/protocol.md "TLS"): the settings of each side and
// the translation of what OpenSSL reports into named errors that say what to do. The wire
// protocol itself is unchanged inside TLS: the same frames, the same hello, and with a
// cluster secret the same challenge-response on top of the certificates.
import {Buffer} from 'node:buffer'
import {DynError} from '../core/errors.js'

/** What a connecting side (a client, or a node calling a peer) brings to a TLS handshake. */
export interface TlsClientSettings {
  /** PEM certificates the node's certificate must chain to; undefined: the system's CAs. */
  readonly ca?: Buffer
  /** PEM certificate presented to the node (mutual TLS); always together with `key`. */
  readonly cert?: Buffer
  readonly key?: Buffer
}

/** What a listening node serves with. */
export interface TlsServerSettings {
  readonly cert: Buffer
  readonly key: Buffer
  /** PEM certificates a client certificate must chain to; required by requireClientCert. */
  readonly ca?: Buffer
  /** Mutual TLS: refuse a connection unless it presents a certificate `ca` signed. */
  readonly requireClientCert: boolean
}

/** Oldest protocol version offered or accepted: TLS 1.0 and 1.1 are deprecated (RFC 8996). */
export const tlsVersionMin = 'TLSv1.2'

/** Largest certificate, key or CA file read: a PEM certificate is 1 to 2 KiB, a bundle of
 * every public root CA about 200 KiB. */
export const tlsFileBytesMax = 1024 * 1024

const pemHeaders = {certificate: /-----BEGIN CERTIFICATE-----/, key: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/} as const

/** What makes a TLS file's bytes unusable as a `kind`, if anything: too large, a key
 * encrypted with a passphrase (nothing here can ask for one), or no PEM block of that kind.
 * The node's configuration and the commands' flags each word their own error from it. */
export function pemProblem(bytes: Uint8Array, kind: keyof typeof pemHeaders): 'tooLarge' | 'encrypted' | 'notPem' | undefined {
  if (bytes.length > tlsFileBytesMax) return 'tooLarge'
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || text.includes('Proc-Type: 4,ENCRYPTED')) return 'encrypted'
  return pemHeaders[kind].test(text) ? undefined : 'notPem'
}

/** Where the settings come from, to name the right flags and variables in an error. */
const clientSettingsHelp = '--tls-ca, --tls-cert and --tls-key (DYN_TLS_CA, DYN_TLS_CERT, DYN_TLS_KEY)'

export class TlsError extends DynError {
  constructor(message: string, code: string, suggestion: string, cause?: unknown) {
    super(message, {code, suggestion, ...(cause === undefined ? {} : {cause})})
  }
}

/** Whether the first bytes of a stream are a TLS handshake record (content type 22, major
 * version 3): what a TLS client sends first. A wire frame starts with its length, whose
 * first byte is 0 for any frame under 16 MiB, so the two never look alike. */
export function looksLikeTlsHandshake(chunk: Uint8Array): boolean {
  return chunk.length >= 2 && chunk[0] === 0x16 && chunk[1] === 0x03
}

/** OpenSSL and Node codes of a failed handshake, by what the connecting side should do. */
const plaintextPeerCodes: ReadonlySet<string> = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LAYER_FAILURE'])
const clientCertMissingCodes: ReadonlySet<string> = new Set(['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'])
const clientCertRefusedCodes: ReadonlySet<string> = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
])
const serverUntrustedCodes: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** The named error for a TLS failure seen by the connecting side of `address`, or
 * undefined when `error` is not one. */
export function tlsClientFailure(error: unknown, address: string): TlsError | undefined {
  const code = (error as {code?: unknown} | undefined)?.code
  if (typeof code !== 'string') return undefined
  const detail = error instanceof Error ? error.message.split('\n')[0] ?? '' : ''
  if (plaintextPeerCodes.has(code)) {
    return new TlsError(
      `${address} does not speak TLS: it answered the TLS handshake in plaintext`,
      'TLS_NOT_SERVED',
      `connect without TLS (drop ${clientSettingsHelp}), or give the node TLS ("tls" in its configuration, docs/node.md)`,
      error,
    )
  }
  if (clientCertMissingCodes.has(code)) {
    return new TlsError(
      `the node at ${address} requires a client certificate (mutual TLS), and this end gave none`,
      'TLS_CLIENT_CERT_REQUIRED',
      'give a certificate the cluster CA signed and its key with --tls-cert and --tls-key (DYN_TLS_CERT, DYN_TLS_KEY), such as client.pem and client-key.pem from `dyn init --tls`',
      error,
    )
  }
  if (clientCertRefusedCodes.has(code)) {
    return new TlsError(
      `the node at ${address} refused this end's client certificate (${detail})`,
      'TLS_CLIENT_CERT_REFUSED',
      'give --tls-cert and --tls-key (DYN_TLS_CERT, DYN_TLS_KEY) a certificate signed by the CA the node trusts ("tls.ca" in its configuration), not expired',
      error,
    )
  }
  if (serverUntrustedCodes.has(code)) {
    return new TlsError(
      `cannot trust the certificate of the node at ${address}: ${detail}`,
      'TLS_SERVER_UNTRUSTED',
      "give the cluster CA that signed the node's certificate with --tls-ca (DYN_TLS_CA), and connect to an address the certificate names (`dyn init --tls` names the listen and advertise addresses, 127.0.0.1 and localhost)",
      error,
    )
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new TlsError(`TLS with ${address} failed: ${detail}`, 'TLS_FAILED', `check ${clientSettingsHelp} against the node's "tls" configuration`, error)
  }
  return undefined
}

/** The connecting side's error when a node closed the connection before saying anything:
 * what a TLS-only port does with a plaintext hello, and what a node with mutual TLS may do
 * with a certificate its CA did not sign (the alert does not always arrive first). */
export function closedBeforeHello(address: string, encrypted: boolean): TlsError {
  if (encrypted) {
    return new TlsError(
      `the node at ${address} closed the TLS connection without a hello: it most likely refused this end's client certificate`,
      'TLS_CLIENT_CERT_REFUSED',
      'give --tls-cert and --tls-key (DYN_TLS_CERT, DYN_TLS_KEY) a certificate signed by the CA the node trusts ("tls.ca" in its configuration); the node log says why it closed',
    )
  }
  return new TlsError(
    `the node at ${address} closed the connection without a hello: it most likely accepts only TLS connections`,
    'TLS_REQUIRED',
    `give the cluster CA with --tls-ca (DYN_TLS_CA), and for mutual TLS a client certificate with --tls-cert and --tls-key (DYN_TLS_CERT, DYN_TLS_KEY); if the node does not use TLS, check that ${address} is a dyn wire port`,
  )
}
