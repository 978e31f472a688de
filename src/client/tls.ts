// The TLS settings a client connects with (DESIGN §11, docs/cli.md): the CA the nodes'
// certificates chain to and, for nodes that require client certificates (mutual TLS), a
// certificate and its key. They come from the --tls-ca, --tls-cert and --tls-key flags of
// the commands or the DYN_TLS_CA, DYN_TLS_CERT and DYN_TLS_KEY variables, as files, and
// like the cluster secret (identity.ts) every client of the process presents them without
// each command passing them along: the commands' base class (cli/base-command.ts) writes
// the flags into the variables, which are read here.
import {readFileSync} from 'node:fs'
import type {Buffer} from 'node:buffer'
import {DynError, exitCodes} from '../core/errors.js'
import {pemProblem, tlsFileBytesMax, type TlsClientSettings} from '../net/index.js'

/** The environment variables, and the flags that take them. */
const tlsVariables = {ca: 'DYN_TLS_CA', cert: 'DYN_TLS_CERT', key: 'DYN_TLS_KEY'} as const

type TlsPathName = keyof typeof tlsVariables

/** Paths of the TLS files; each undefined when not given. */
type ClientTlsPaths = Partial<Record<TlsPathName, string | undefined>>

export class TlsFileError extends DynError {
  constructor(which: TlsPathName, problem: string, suggestion: string) {
    super(`--tls-${which} (${tlsVariables[which]}): ${problem}`, {code: 'TLS_FILE', exitCode: exitCodes.usage, suggestion})
  }
}

const what: Readonly<Record<TlsPathName, {kind: string; pem: 'certificate' | 'key'}>> = {
  ca: {kind: 'CA certificate', pem: 'certificate'},
  cert: {kind: 'client certificate', pem: 'certificate'},
  key: {kind: 'private key', pem: 'key'},
}

function readPem(which: TlsPathName, path: string): Buffer {
  const {kind, pem} = what[which]
  const suggestion = `give the path of the ${kind} in PEM form (\`dyn init --tls\` writes ca.pem, client.pem and client-key.pem), or unset ${tlsVariables[which]}`
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (error) {
    throw new TlsFileError(which, `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, suggestion)
  }
  const problem = pemProblem(bytes, pem)
  if (problem === 'tooLarge') throw new TlsFileError(which, `${path} is ${bytes.length} bytes; the limit is ${tlsFileBytesMax}`, suggestion)
  if (problem === 'encrypted') {
    throw new TlsFileError(which, `${path} is encrypted with a passphrase, which dyn cannot ask for`, `write the key unencrypted, readable only by you: openssl pkey -in ${path} -out KEY.pem && chmod 600 KEY.pem`)
  }
  if (problem === 'notPem') throw new TlsFileError(which, `${path} is not a PEM ${kind}`, suggestion)
  return bytes
}

/** The settings the paths give, read and checked; undefined when no path is given
 * (plaintext). A certificate needs its key and a key its certificate. */
export function readClientTls(paths: ClientTlsPaths): TlsClientSettings | undefined {
  const given = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value)
  const ca = given(paths.ca)
  const cert = given(paths.cert)
  const key = given(paths.key)
  if (ca === undefined && cert === undefined && key === undefined) return undefined
  if ((cert === undefined) !== (key === undefined)) {
    const [missing, present] = cert === undefined ? (['cert', 'key'] as const) : (['key', 'cert'] as const)
    throw new TlsFileError(missing, `is missing, and --tls-${present} (${tlsVariables[present]}) is given`, 'give the client certificate and its key together (client.pem and client-key.pem from `dyn init --tls`)')
  }
  return {
    ...(ca === undefined ? {} : {ca: readPem('ca', ca)}),
    ...(cert === undefined ? {} : {cert: readPem('cert', cert)}),
    ...(key === undefined ? {} : {key: readPem('key', key)}),
  }
}

/** The settings DYN_TLS_CA, DYN_TLS_CERT and DYN_TLS_KEY name; undefined when none is set. */
export function tlsFromEnvironment(env: NodeJS.ProcessEnv = process.env): TlsClientSettings | undefined {
  return readClientTls({ca: env[tlsVariables.ca], cert: env[tlsVariables.cert], key: env[tlsVariables.key]})
}

/** The variables' settings as last read, by the paths they named: every client, pool and
 * admin request of a process (`dyn top` makes some each interval) asks, and the files are
 * read again only when the variables name others. */
let fromEnvironment: {paths: string; settings: TlsClientSettings | undefined} | undefined

/** The settings a client connects with: those given, else the variables' (which a
 * command sets from its flags); undefined: plaintext. */
export function clientTls(given?: TlsClientSettings): TlsClientSettings | undefined {
  if (given !== undefined) return given
  const paths = JSON.stringify([process.env[tlsVariables.ca], process.env[tlsVariables.cert], process.env[tlsVariables.key]])
  if (fromEnvironment?.paths !== paths) fromEnvironment = {paths, settings: tlsFromEnvironment()}
  return fromEnvironment.settings
}
