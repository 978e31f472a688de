// A development certificate authority for a cluster's TLS (DESIGN §11, docs/deploy.md):
// `dyn init --tls` makes a CA once (ca.pem, ca-key.pem), and with it a certificate for each
// node (its addresses, 127.0.0.1 and localhost as subject alternative names, good for
// serving and for connecting to peers) and one for the commands (mutual TLS).
//
// The `openssl` program does the cryptography: Node can make keys but not certificates,
// and a hand-written X.509 encoder is code to get wrong where a small mistake is a security
// hole. Debian, every CI image and most servers ship openssl; the commands used need
// OpenSSL 3.0 or later (`x509 -copy_extensions`). Keys are made by `openssl genpkey` on its standard output and
// written here with mode 0600, so no key is ever on disk readable by others, even briefly.
import {randomBytes} from 'node:crypto'
import {access, chmod, readFile, rename, writeFile} from 'node:fs/promises'
import {isIP} from 'node:net'
import {join} from 'node:path'
import {execa} from 'execa'
import {DynError, exitCodes} from '../core/errors.js'

/** ECDSA over P-256: keys made in milliseconds, small handshakes, and accepted by every TLS
 * library; RSA-2048 would cost ~100 ms per key and more CPU per handshake for no gain here. */
const keyCurve = 'P-256'

/** The CA outlives its certificates: re-issuing a node's certificate must not mean
 * re-distributing the CA to every client. A development CA; a production one is the
 * operator's (docs/deploy.md). */
export const caValidityDays = 3650

/** 825 days: the longest validity macOS and iOS accept for a server certificate, so the
 * same files work from a laptop. */
export const certificateValidityDays = 825

/** Longest an openssl run may take: each makes one key or signs one certificate in a few
 * milliseconds; a minute means something is wrong (an entropy-starved VM, a prompt). */
const opensslTimeoutMs = 60_000

export const caFile = 'ca.pem'
export const caKeyFile = 'ca-key.pem'
export const clientName = 'client'

export class OpensslMissingError extends DynError {
  constructor(cause: unknown) {
    super('the openssl program is needed to make the TLS certificates, and it cannot be run', {
      code: 'OPENSSL_MISSING',
      exitCode: exitCodes.error,
      suggestion: 'install OpenSSL (Debian and Ubuntu: apt-get install openssl; Fedora: dnf install openssl; macOS: brew install openssl) and run the command again',
      cause,
    })
  }
}

export class OpensslError extends DynError {
  constructor(step: string, detail: string) {
    super(`openssl failed to ${step}: ${detail}`, {
      code: 'OPENSSL_FAILED',
      exitCode: exitCodes.error,
      suggestion: 'check that `openssl version` prints OpenSSL 3.0 or later, and that the CA files are the ones `dyn init --tls` wrote',
    })
  }
}

async function openssl(step: string, args: readonly string[], input?: string): Promise<string> {
  let result
  try {
    result = await execa('openssl', args, {reject: false, timeout: opensslTimeoutMs, ...(input === undefined ? {stdin: 'ignore' as const} : {input})})
  } catch (error) {
    throw new OpensslMissingError(error)
  }
  if ((result.code ?? '') === 'ENOENT' || (result.failed && result.exitCode === undefined)) throw new OpensslMissingError(result.cause ?? result.message)
  if (result.exitCode !== 0) throw new OpensslError(step, String(result.stderr).trim().split('\n').slice(-2).join(' ') || `exit code ${String(result.exitCode)}`)
  return String(result.stdout)
}

/** Writes a file atomically with `mode` from the start (a temporary file renamed). */
async function writePrivate(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`
  await writeFile(temporary, text, {mode})
  await chmod(temporary, mode) // the umask may have taken bits off; a key must not gain any
  await rename(temporary, path)
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

async function newKey(path: string): Promise<void> {
  const key = await openssl('make a key', ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${keyCurve}`])
  await writePrivate(path, key, 0o600)
}

function serial(): string {
  // 16 random bytes, the top bit clear: a positive serial of up to 20 bytes (RFC 5280).
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0] ?? 0) & 0x7f
  return `0x${bytes.toString('hex')}`
}

export interface CertificateAuthority {
  readonly certPath: string
  readonly keyPath: string
  /** False when the files were there already and were reused. */
  readonly created: boolean
}

/** The CA in `dir`: reused when ca.pem and ca-key.pem are there, made otherwise. */
export async function ensureCertificateAuthority(dir: string, cluster: string): Promise<CertificateAuthority> {
  const certPath = join(dir, caFile)
  const keyPath = join(dir, caKeyFile)
  const [hasCert, hasKey] = await Promise.all([exists(certPath), exists(keyPath)])
  if (hasCert && hasKey) return {certPath, keyPath, created: false}
  if (hasCert !== hasKey) {
    throw new DynError(`${hasCert ? keyPath : certPath} is missing, and ${hasCert ? certPath : keyPath} is there`, {
      code: 'CA_INCOMPLETE',
      exitCode: exitCodes.error,
      suggestion: `put back both ${caFile} and ${caKeyFile} of the cluster's CA into ${dir}, or remove the one left to make a new CA (every node and client then needs the new ${caFile})`,
    })
  }
  await newKey(keyPath)
  const subject = `/O=dyn/CN=dyn ${cluster} development CA`
  const cert = await openssl('make the CA certificate', [
    'req', '-x509', '-new', '-key', keyPath, '-days', String(caValidityDays), '-subj', subject, '-set_serial', serial(),
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ])
  await writePrivate(certPath, cert, 0o644)
  return {certPath, keyPath, created: true}
}

/** The subject alternative names for `hosts`: IP or DNS entries, without repeats. */
export function subjectAltNames(hosts: readonly string[]): string {
  const unique = [...new Set(hosts.map((host) => host.replace(/^\[|\]$/g, '')))]
  return unique.map((host) => (isIP(host) === 0 ? `DNS:${host}` : `IP:${host}`)).join(',')
}

export interface IssuedCertificate {
  readonly certPath: string
  readonly keyPath: string
}

/** Makes a key and a certificate the CA signs, for `name` (a node or the commands), valid
 * for serving at `hosts` and for connecting as a client; written as DIR/FILE.pem and
 * DIR/FILE-key.pem (the key mode 0600). */
export async function issueCertificate(options: {ca: CertificateAuthority; dir: string; file: string; name: string; hosts: readonly string[]}): Promise<IssuedCertificate> {
  const certPath = join(options.dir, `${options.file}.pem`)
  const keyPath = join(options.dir, `${options.file}-key.pem`)
  await newKey(keyPath)
  const request = await openssl('make a certificate request', [
    'req', '-new', '-key', keyPath, '-subj', `/O=dyn/CN=${options.name}`,
    ...(options.hosts.length === 0 ? [] : ['-addext', `subjectAltName=${subjectAltNames(options.hosts)}`]),
    '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
  ])
  const cert = await openssl(
    'sign a certificate with the CA',
    ['x509', '-req', '-CA', options.ca.certPath, '-CAkey', options.ca.keyPath, '-set_serial', serial(), '-days', String(certificateValidityDays), '-copy_extensions', 'copyall'],
    request,
  )
  await writePrivate(certPath, cert, 0o644)
  return {certPath, keyPath}
}

/** The CA certificate's text, to copy next to a node's configuration. */
export function readCaCertificate(ca: CertificateAuthority): Promise<string> {
  return readFile(ca.certPath, 'utf8')
}
