// The node configuration (docs/node.md): a JSON file and/or the flags of `dyn node start`,
// validated once at start. Every invalid field is refused with a ConfigError naming the
// field, the value given and the values allowed (DESIGN §1.4, STYLE 7), so a node never
// starts on a configuration it would misread. Unknown fields are refused too: a typo such
// as "partitons" must not silently fall back to a default.
import {readFile} from 'node:fs/promises'
import {isAbsolute, dirname, resolve} from 'node:path'
import {createSecureContext} from 'node:tls'
import {DynError, exitCodes} from '../core/errors.js'
import {valueBytesMaxCeiling, valueBytesMaxDefault} from '../core/limits.js'
import {
  allowedPartitionCounts,
  nodeNameLengthMax,
  nodeWeightMax,
  partitionCountDefault,
  partitionCountMax,
  partitionCountMin,
} from '../core/ring.js'
import {nameBytesMax, pemProblem, requestTimeoutMsDefault, tlsFileBytesMax, type TlsServerSettings} from '../net/index.js'
import {parseSyncMode, segmentBytesMaxCeiling, segmentBytesMaxDefault, type SyncMode} from '../store/index.js'
import {readFanouts, type ReadFanout} from '../node/kv.js'

/** Most members of a static member list: far beyond any cluster one list is typed for, and
 * it bounds the work a bad file can cause at start (the ring claim is O(Q·members)). */
export const membersMax = 1000

/** Longest request timeout: a replica that has not answered in a minute is down for every
 * practical purpose, and a longer wait only holds client requests and memory. */
export const requestTimeoutMsMax = 60_000

/** Shortest cluster secret. The hello's HMAC proof can be recorded and attacked offline, so
 * the secret must not be guessable: 16 characters of a random token is at least ~96 bits. */
export const secretCharsMin = 16

/** Longest cluster secret; it is hashed, never sent, so this only bounds a bad file. */
export const secretCharsMax = 1024

/** Largest configuration file read: a node config is a few KiB even with a thousand members. */
export const configFileBytesMax = 1024 * 1024

/** TLS on the wire port and the HTTP admin port (DESIGN §11); paths are absolute. */
export interface TlsConfig {
  /** PEM certificate the node serves with and presents to its peers. */
  readonly cert: string
  /** PEM private key of `cert`, unencrypted (a node cannot ask for a passphrase). */
  readonly key: string
  /** PEM CA certificates peers' (and with requireClientCert, clients') certificates must
   * chain to; undefined: the system's CAs. */
  readonly ca?: string
  /** Mutual TLS: the wire port admits only connections with a certificate `ca` signed. */
  readonly requireClientCert: boolean
}

export interface HostPort {
  readonly host: string
  readonly port: number
}

export interface MemberConfig {
  readonly name: string
  /** host:port of the member's wire-protocol listener. */
  readonly address: string
  /** Share of partitions relative to the other members, 1..nodeWeightMax. */
  readonly weight: number
}

/** A validated node configuration; every field is present and in range. */
export interface DaemonConfig {
  readonly cluster: string
  readonly name: string
  readonly listen: HostPort
  readonly http: HostPort
  /** Absolute path of the store directory. */
  readonly dataDir: string
  /** Sorted by name; names and addresses unique; `name` is one of them unless `seeds` are
   * given (a node joining an existing cluster). */
  readonly members: readonly MemberConfig[]
  /** Wire addresses of nodes to gossip with while this node knows no other member: a node
   * that is not one of `members` starts as 'joining' and announces itself to them. */
  readonly seeds?: readonly string[]
  readonly n: number
  readonly r: number
  readonly w: number
  /** Q: a power of two from partitionCountMin to partitionCountMax. */
  readonly partitions: number
  /** As written (`always`, `interval:MS`, `none`); `syncMode` is its parsed form. */
  readonly sync: string
  readonly syncMode: SyncMode
  readonly valueBytesMax: number
  /** A segment file rolls over at this size; closed segments are what compaction merges
   * (daemon/compactor.ts). */
  readonly segmentBytesMax: number
  readonly requestTimeoutMs: number
  /** Which replicas a get asks (node/kv.ts askReplicasToGet). */
  readonly readFanout: ReadFanout
  /** Cluster secret for the hello's challenge-response (DESIGN §11). */
  readonly secret?: string
  /** Absolute path of the file the secret is read from at start (loadConfig), instead of
   * `secret` in the file itself: a Kubernetes Secret mounted as a file, a file only root
   * reads. parseConfig only checks the path; loadConfig reads it into `secret`. */
  readonly secretFile?: string
  /** host:port other nodes and clients reach this node at, when it is not the listen
   * address: a node listening on 0.0.0.0 in a pod is reached by its stable DNS name. It is
   * the address a joining node announces and the one of this node in a member list it
   * makes for itself. Default: the listen address. */
  readonly advertise?: string
  /** TLS on both ports; undefined: plaintext. */
  readonly tls?: TlsConfig
  /** Serve on a non-loopback address without a secret and without TLS, which is refused
   * otherwise (DESIGN §11). */
  readonly insecure: boolean
}

/** Smallest segment a node may be configured with: each closed segment is a file and a
 * hint, so smaller ones only multiply files (tests use it to see compaction soon). */
export const configSegmentBytesMin = 4096

/** Defaults of the optional fields (DESIGN §4: N/R/W 3/2/2, Q 64; §6: sync always; §11:
 * bind to loopback unless told otherwise). */
export const configDefaults = {
  cluster: 'dyn',
  listen: {host: '127.0.0.1', port: 7001},
  http: {host: '127.0.0.1', port: 8001},
  n: 3,
  r: 2,
  w: 2,
  partitions: partitionCountDefault,
  sync: 'always',
  valueBytesMax: valueBytesMaxDefault,
  segmentBytesMax: segmentBytesMaxDefault,
  requestTimeoutMs: requestTimeoutMsDefault,
  readFanout: 'quorum',
  weight: 1,
} as const

/** The flags of `dyn node start`; each overrides the file's field. */
export interface ConfigOverrides {
  name?: string | undefined
  host?: string | undefined
  port?: number | undefined
  httpHost?: string | undefined
  httpPort?: number | undefined
  dataDir?: string | undefined
  /** Members besides this node: `n2@127.0.0.1:7002,n3@127.0.0.1:7003`. */
  peers?: string | undefined
  cluster?: string | undefined
  n?: number | undefined
  r?: number | undefined
  w?: number | undefined
  partitions?: number | undefined
  sync?: string | undefined
  /** host:port to announce instead of the listen address. */
  advertise?: string | undefined
  /** Paths of the TLS files, each overriding its field of `tls`. */
  tlsCert?: string | undefined
  tlsKey?: string | undefined
  tlsCa?: string | undefined
  tlsRequireClientCert?: boolean | undefined
  insecure?: boolean | undefined
}

export class ConfigError extends DynError {
  readonly field: string
  constructor(field: string, problem: string, suggestion: string) {
    super(`${field}: ${problem}`, {code: 'CONFIG_INVALID', exitCode: exitCodes.usage, suggestion})
    this.field = field
  }
}

export class ConfigFileError extends DynError {
  constructor(path: string, problem: string) {
    super(`configuration file ${path} ${problem}`, {
      code: 'CONFIG_UNREADABLE',
      exitCode: exitCodes.usage,
      suggestion: 'give the path of a readable JSON file (see docs/node.md for its fields)',
    })
  }
}

export interface LoadConfigOptions {
  /** Path of the JSON configuration file; relative paths inside it resolve against its folder. */
  configPath?: string | undefined
  overrides?: ConfigOverrides
  /** Folder relative flag paths resolve against; default process.cwd(). */
  cwd?: string
}

/** Reads the file (if any), applies the flag overrides, validates. */
export async function loadConfig(options: LoadConfigOptions): Promise<DaemonConfig> {
  const cwd = options.cwd ?? process.cwd()
  let raw: unknown = {}
  let baseDir = cwd
  if (options.configPath !== undefined) {
    const path = resolve(cwd, options.configPath)
    raw = await readConfigFile(path)
    baseDir = dirname(path)
  }
  const config = parseConfig(raw, {baseDir, overrides: options.overrides ?? {}, cwd})
  if (config.secretFile === undefined) return config
  return {...config, secret: await readSecretFile(config.secretFile)}
}

/** The secret a `secretFile` holds: its text without one trailing newline (how editors,
 * `openssl rand -base64` and `kubectl create secret --from-file` leave it), as
 * `dyn init --secret-file` and DYN_SECRET_FILE read it. */
export async function readSecretFile(path: string): Promise<string> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    throw new ConfigError('secretFile', `${path} cannot be read (${code})`, 'give the path of a file holding the cluster secret, readable by the node (a mounted Kubernetes Secret, or a file written by `openssl rand -base64 32`)')
  }
  // A secret is at most secretCharsMax characters; anything much longer is not a secret file.
  if (bytes.length > secretCharsMax * 4) throw new ConfigError('secretFile', `${path} is ${bytes.length} bytes`, `the file must hold only the secret, ${secretCharsMin} to ${secretCharsMax} characters`)
  const secret = secretOf(bytes.toString('utf8').replace(/\r?\n$/, ''), 'secretFile')
  if (secret === undefined) throw new ConfigError('secretFile', `${path} holds no secret`, `write the secret, ${secretCharsMin} to ${secretCharsMax} characters, into the file`)
  return secret
}

async function readConfigFile(path: string): Promise<unknown> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    throw new ConfigFileError(path, `cannot be read (${code})`)
  }
  if (bytes.length > configFileBytesMax) throw new ConfigFileError(path, `is ${bytes.length} bytes; the limit is ${configFileBytesMax}`)
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown
  } catch (error) {
    throw new ConfigFileError(path, `is not valid JSON (${error instanceof Error ? error.message : String(error)})`)
  }
}

const topFields = [
  'cluster',
  'name',
  'listen',
  'http',
  'dataDir',
  'members',
  'n',
  'r',
  'w',
  'partitions',
  'sync',
  'valueBytesMax',
  'segmentBytesMax',
  'requestTimeoutMs',
  'readFanout',
  'secret',
  'secretFile',
  'seeds',
  'advertise',
  'tls',
  'insecure',
] as const
const hostPortFields = ['host', 'port'] as const
const tlsFields = ['cert', 'key', 'ca', 'requireClientCert'] as const
const memberFields = ['name', 'address', 'weight'] as const

type Fields = Record<string, unknown>

export interface ParseConfigOptions {
  /** Folder a relative dataDir in the file resolves against. */
  baseDir: string
  overrides?: ConfigOverrides
  /** Folder a relative --data-dir resolves against. */
  cwd?: string
}

/** Validates a configuration object (the parsed JSON file) with the flag overrides applied. */
export function parseConfig(raw: unknown, options: ParseConfigOptions): DaemonConfig {
  const file = objectOf('configuration', raw, topFields)
  const flags = options.overrides ?? {}
  const cwd = options.cwd ?? options.baseDir

  const cluster = identifier('cluster', flags.cluster ?? file['cluster'] ?? configDefaults.cluster, nameBytesMax)
  const name = identifier('name', flags.name ?? required('name', file['name']), nodeNameLengthMax)
  const listen = hostPort('listen', file['listen'], configDefaults.listen, {host: flags.host, port: flags.port})
  const http = hostPort('http', file['http'], configDefaults.http, {host: flags.httpHost, port: flags.httpPort})
  const dataDir = flags.dataDir === undefined ? path('dataDir', required('dataDir', file['dataDir']), options.baseDir) : path('dataDir', flags.dataDir, cwd)
  const seeds = seedList(file['seeds'])
  const advertise = advertiseOf(flags.advertise ?? file['advertise'])
  const members = memberList({name, self: advertise ?? selfAddress(listen), file: file['members'], peers: flags.peers, joining: seeds !== undefined})
  // A joining node takes the cluster's N, which its member list need not show; a first
  // member (also one given seeds, as every pod of a StatefulSet is) starts the ring from
  // the member list, which must hold N.
  const firstMember = seeds === undefined || members.some((member) => member.name === name)
  const nMax = firstMember ? members.length : partitionCountMax
  const n = integer('n', flags.n ?? file['n'] ?? configDefaults.n, {min: 1, max: nMax, rule: `must be between 1 and the number of members (${nMax})`})
  const r = integer('r', flags.r ?? file['r'] ?? configDefaults.r, {min: 1, max: n, rule: `must be between 1 and n=${n}`})
  const w = integer('w', flags.w ?? file['w'] ?? configDefaults.w, {min: 1, max: n, rule: `must be between 1 and n=${n}`})
  const partitions = partitionCount(flags.partitions ?? file['partitions'] ?? configDefaults.partitions)
  const {sync, syncMode} = syncOf(flags.sync ?? file['sync'] ?? configDefaults.sync)
  const valueBytesMax = integer('valueBytesMax', file['valueBytesMax'] ?? configDefaults.valueBytesMax, {min: 1, max: valueBytesMaxCeiling})
  const segmentBytesMax = integer('segmentBytesMax', file['segmentBytesMax'] ?? configDefaults.segmentBytesMax, {min: configSegmentBytesMin, max: segmentBytesMaxCeiling})
  const requestTimeoutMs = integer('requestTimeoutMs', file['requestTimeoutMs'] ?? configDefaults.requestTimeoutMs, {min: 1, max: requestTimeoutMsMax})
  const readFanout = readFanoutOf(file['readFanout'] ?? configDefaults.readFanout)
  const secret = secretOf(file['secret'], 'secret')
  const secretFile = file['secretFile'] === undefined ? undefined : secretPath(file['secretFile'], options.baseDir)
  if (secret !== undefined && secretFile !== undefined) throw new ConfigError('secretFile', 'is given together with secret', 'give the secret either in the file (secret) or as the path of a file holding it (secretFile), not both')
  if (n > partitions) throw new ConfigError('n', `${n} is more than partitions=${partitions}`, 'use fewer replicas than partitions')
  const tls = tlsOf(file['tls'], flags, {baseDir: options.baseDir, cwd})
  const insecure = booleanOf('insecure', flags.insecure ?? file['insecure'] ?? false)
  if (!isLoopback(listen.host) && secret === undefined && secretFile === undefined && tls === undefined && !insecure) throw new InsecureListenError(listen)
  return {
    cluster,
    name,
    listen,
    http,
    dataDir,
    members,
    n,
    r,
    w,
    partitions,
    sync,
    syncMode,
    valueBytesMax,
    segmentBytesMax,
    requestTimeoutMs,
    readFanout,
    ...(secret === undefined ? {} : {secret}),
    ...(seeds === undefined ? {} : {seeds}),
    ...(secretFile === undefined ? {} : {secretFile}),
    ...(advertise === undefined ? {} : {advertise}),
    ...(tls === undefined ? {} : {tls}),
    insecure,
  }
}

/** A node that anyone who reaches its port could read and write: refused unless the
 * configuration says so (DESIGN §11). */
export class InsecureListenError extends ConfigError {
  constructor(listen: HostPort) {
    super(
      'listen.host',
      `${listen.host} is not a loopback address, and the node has neither a cluster secret nor TLS: anyone who can reach port ${listen.port} could read and write every key`,
      'give the node a cluster secret ("secretFile", `dyn init --secret-file`) and/or TLS ("tls", `dyn init --tls`; docs/deploy.md), listen on 127.0.0.1, ' +
        'or, on a network only trusted hosts reach, start it with --insecure ("insecure": true)',
    )
  }
}

/** Things worth a loud line in the log, though the configuration is valid. */
export function configWarnings(config: DaemonConfig): string[] {
  const warnings: string[] = []
  const hasSecret = config.secret !== undefined || config.secretFile !== undefined
  if (!hasSecret && config.tls === undefined && !isLoopback(config.listen.host)) {
    warnings.push(
      `WARNING: insecure: listening on ${config.listen.host}:${config.listen.port}, which is not a loopback address, without a cluster secret or TLS: ` +
        'anyone who can reach this port can read and write every key. Give the node "secretFile" and "tls" (docs/deploy.md).',
    )
  } else if (!hasSecret && config.tls !== undefined && !config.tls.requireClientCert && !isLoopback(config.listen.host)) {
    warnings.push(
      `WARNING: TLS without client certificates or a cluster secret on ${config.listen.host}:${config.listen.port}: the traffic is private, ` +
        'but anyone who can reach this port can read and write every key. Set "tls.requireClientCert" or "secretFile".',
    )
  }
  if (!isLoopback(config.http.host)) {
    warnings.push(`WARNING: the HTTP admin port listens on ${config.http.host}:${config.http.port}; /status shows the cluster layout to anyone who can reach it.`)
  }
  const self = config.members.find((member) => member.name === config.name)
  if (self !== undefined && config.advertise !== undefined && self.address !== config.advertise) {
    warnings.push(`WARNING: members lists ${config.name} at ${self.address} but it advertises ${config.advertise}; peers and clients will look for it at ${self.address}.`)
  } else if (self !== undefined && config.advertise === undefined && splitAddress(self.address)?.port !== config.listen.port) {
    warnings.push(`WARNING: members lists ${config.name} at ${self.address} but it listens on port ${config.listen.port}; peers and clients will look for it at ${self.address}.`)
  }
  return warnings
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

// ---- field parsers: each throws a ConfigError naming the field ----

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value)
}

function objectOf(field: string, value: unknown, allowed: readonly string[]): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(field, `${show(value)} is not a JSON object`, `write ${field} as an object with the fields ${allowed.join(', ')}`)
  }
  const unknown = Object.keys(value).filter((key) => !allowed.includes(key))
  if (unknown.length > 0) {
    const where = field === 'configuration' ? '' : ` in ${field}`
    throw new ConfigError(
      field === 'configuration' ? (unknown[0] ?? field) : `${field}.${unknown[0] ?? ''}`,
      `unknown field${unknown.length === 1 ? '' : 's'}${where}: ${unknown.join(', ')}; the allowed fields are ${allowed.join(', ')}`,
      'check the spelling: unknown fields are refused so that a typo is never ignored',
    )
  }
  return value as Fields
}

function required(field: string, value: unknown): unknown {
  if (value === undefined) throw new ConfigError(field, 'is missing', `give ${field} in the configuration file or as a flag`)
  return value
}

const identifierPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/** Node and cluster names: shown in tables and logs and written in `name@host:port`, so
 * letters, digits, '.', '_' and '-' only. */
function identifier(field: string, value: unknown, lengthMax: number): string {
  const allowed = `1 to ${lengthMax} letters, digits, '.', '_' or '-', starting with a letter or digit`
  if (typeof value !== 'string' || value.length > lengthMax || !identifierPattern.test(value)) {
    throw new ConfigError(field, `${show(value)} is not allowed; use ${allowed}`, `use ${allowed}`)
  }
  return value
}

/** One of the read fan-outs (node/kv.ts). */
function readFanoutOf(value: unknown): ReadFanout {
  if (typeof value === 'string' && (readFanouts as readonly string[]).includes(value)) return value as ReadFanout
  throw new ConfigError('readFanout', `${show(value)} is not one of ${readFanouts.join(', ')}`, 'set readFanout to "quorum" (ask R replicas, more when one is slow) or "all" (ask every replica)')
}

/** An integer in [min, max]; `rule` says so in words when the bounds depend on other fields. */
function integer(field: string, value: unknown, range: {min: number; max: number; rule?: string}): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
    const rule = range.rule ?? `must be an integer from ${range.min} to ${range.max}`
    throw new ConfigError(field, `${show(value)} ${rule}`, `set ${field} to a value that ${rule.replace(/^must be/, 'is')}`)
  }
  return value
}

const portAllowed = {min: 1, max: 65_535, rule: 'must be a port number from 1 to 65535'} as const

function host(field: string, value: unknown): string {
  // A host is a name or an address; the listener reports what the system makes of it.
  if (typeof value !== 'string' || value.length === 0 || value.length > 253 || /[\s/@,]/.test(value)) {
    throw new ConfigError(field, `${show(value)} is not a host; use an IP address or host name`, 'use an IP address or host name, such as 127.0.0.1')
  }
  return value
}

function hostPort(field: string, value: unknown, defaults: HostPort, flags: {host: string | undefined; port: number | undefined}): HostPort {
  const fields = value === undefined ? {} : objectOf(field, value, hostPortFields)
  return {
    host: host(`${field}.host`, flags.host ?? fields['host'] ?? defaults.host),
    port: integer(`${field}.port`, flags.port ?? fields['port'] ?? defaults.port, portAllowed),
  }
}

function path(field: string, value: unknown, baseDir: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(field, `${show(value)} is not a path`, 'give the directory the node keeps its data in')
  }
  return isAbsolute(value) ? value : resolve(baseDir, value)
}

function partitionCount(value: unknown): number {
  if (typeof value !== 'number' || !allowedPartitionCounts().includes(value)) {
    const allowed = `a power of two from ${partitionCountMin} to ${partitionCountMax}`
    throw new ConfigError('partitions', `${show(value)} is not allowed; use ${allowed}`, `use ${allowed}: ${allowedPartitionCounts().join(', ')}`)
  }
  return value
}

function syncOf(value: unknown): {sync: string; syncMode: SyncMode} {
  const allowed = '"always", "interval:MS" (MS from 1 to 60000) or "none"'
  if (typeof value !== 'string') throw new ConfigError('sync', `${show(value)} is not allowed; use ${allowed}`, `use ${allowed}`)
  try {
    return {sync: value, syncMode: parseSyncMode(value)}
  } catch {
    throw new ConfigError('sync', `${show(value)} is not allowed; use ${allowed}`, `use ${allowed}`)
  }
}

function secretOf(value: unknown, field: 'secret' | 'secretFile'): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length < secretCharsMin || value.length > secretCharsMax) {
    const length = typeof value === 'string' ? `a string of ${value.length} characters` : show(value)
    const allowed = `a random string of ${secretCharsMin} to ${secretCharsMax} characters, the same on every node`
    throw new ConfigError(field, `${length} is not allowed; use ${allowed}`, `use ${allowed}`)
  }
  return value
}

function secretPath(value: unknown, baseDir: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError('secretFile', `${show(value)} is not a path`, 'give the path of the file holding the cluster secret, such as /etc/dyn/secret')
  }
  return isAbsolute(value) ? value : resolve(baseDir, value)
}

function booleanOf(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(field, `${show(value)} is not true or false`, `write ${field} as true or false, without quotes`)
  return value
}

function tlsPath(field: string, value: unknown, baseDir: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(field, `${show(value)} is not a path`, 'give the path of a PEM file, such as the ones `dyn init --tls` writes')
  }
  return isAbsolute(value) ? value : resolve(baseDir, value)
}

/** `tls` with the --tls-* flags over it: cert and key together, ca with requireClientCert. */
function tlsOf(value: unknown, flags: ConfigOverrides, dirs: {baseDir: string; cwd: string}): TlsConfig | undefined {
  const file = value === undefined ? {} : objectOf('tls', value, tlsFields)
  const pathOf = (field: 'cert' | 'key' | 'ca', flag: string | undefined): string | undefined =>
    flag !== undefined ? tlsPath(`tls.${field}`, flag, dirs.cwd) : file[field] === undefined ? undefined : tlsPath(`tls.${field}`, file[field], dirs.baseDir)
  const cert = pathOf('cert', flags.tlsCert)
  const key = pathOf('key', flags.tlsKey)
  const ca = pathOf('ca', flags.tlsCa)
  const requireClientCert = booleanOf('tls.requireClientCert', flags.tlsRequireClientCert ?? file['requireClientCert'] ?? false)
  if (cert === undefined && key === undefined && ca === undefined && !requireClientCert) return undefined
  if (cert === undefined || key === undefined) {
    const [missing, given] = cert === undefined ? ['cert', key === undefined ? (ca === undefined ? 'tls.requireClientCert' : 'tls.ca') : 'tls.key'] : ['key', 'tls.cert']
    throw new ConfigError(
      `tls.${missing}`,
      `is missing, and ${given} is given`,
      `give both the node's certificate and its key (--tls-cert and --tls-key, or "tls": {"cert": ..., "key": ...}), such as the ones \`dyn init --tls\` writes; without TLS, give none of the tls settings`,
    )
  }
  if (requireClientCert && ca === undefined) {
    throw new ConfigError('tls.ca', 'is missing, and tls.requireClientCert is true', 'give the CA that signs the client certificates (--tls-ca, "tls": {"ca": ...}): without it any certificate of a public CA would be admitted')
  }
  return {cert, key, ...(ca === undefined ? {} : {ca}), requireClientCert}
}

async function readTlsFile(field: string, path: string, what: {pem: 'certificate' | 'key'; kind: string}): Promise<Buffer> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    const hint = code === 'EACCES' ? ' (the node runs as a user that cannot read it: give that user read access, and keep a key mode 0600)' : ''
    throw new ConfigError(field, `${path} cannot be read (${code})${hint}`, `give the path of the ${what.kind}, a PEM file the node can read (\`dyn init --tls\` writes them)`)
  }
  const problem = pemProblem(bytes, what.pem)
  if (problem === 'tooLarge') throw new ConfigError(field, `${path} is ${bytes.length} bytes; the limit is ${tlsFileBytesMax}`, `give the path of the ${what.kind} in PEM form`)
  if (problem === 'encrypted') {
    throw new ConfigError(field, `${path} is encrypted with a passphrase, which a node cannot ask for`, `write the key unencrypted, readable only by the node's user: openssl pkey -in ${path} -out KEY.pem && chmod 600 KEY.pem`)
  }
  if (problem === 'notPem') throw new ConfigError(field, `${path} is not a PEM ${what.kind} (no "-----BEGIN" line of one)`, `give the ${what.kind} in PEM form; convert a DER file with openssl x509 -inform der (certificates) or openssl pkey -inform der (keys)`)
  return bytes
}

/** Reads the TLS files and checks that they make a usable TLS context: each one readable
 * and PEM, the key the certificate's own. Throws ConfigError naming the field. */
export async function readTlsFiles(tls: TlsConfig): Promise<TlsServerSettings> {
  const [cert, key, ca] = await Promise.all([
    readTlsFile('tls.cert', tls.cert, {pem: 'certificate', kind: 'certificate'}),
    readTlsFile('tls.key', tls.key, {pem: 'key', kind: 'private key'}),
    tls.ca === undefined ? undefined : readTlsFile('tls.ca', tls.ca, {pem: 'certificate', kind: 'CA certificate'}),
  ])
  try {
    createSecureContext({cert, key, ...(ca === undefined ? {} : {ca})})
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (/key values mismatch/i.test(message)) {
      throw new ConfigError('tls.key', `${tls.key} is not the key of the certificate ${tls.cert}`, 'give the key that was made with the certificate (dyn init --tls writes NAME.pem and NAME-key.pem together)')
    }
    throw new ConfigError('tls.cert', `${tls.cert}, ${tls.key}${tls.ca === undefined ? '' : ` and ${tls.ca}`} cannot be used for TLS: ${message}`, 'check the files with openssl x509 -in CERT -noout -text and openssl pkey -in KEY -noout')
  }
  return {cert, key, ...(ca === undefined ? {} : {ca}), requireClientCert: tls.requireClientCert}
}

/** Hosts that are only something to listen on: a node announced at one cannot be reached. */
const wildcardHosts: ReadonlySet<string> = new Set(['0.0.0.0', '::'])

/** `advertise`: host:port, not a wildcard address. */
function advertiseOf(value: unknown): string | undefined {
  if (value === undefined) return undefined
  const checked = address('advertise', value)
  const host = splitAddress(checked)?.host ?? ''
  if (wildcardHosts.has(host)) {
    throw new ConfigError('advertise', `${show(value)} is an address to listen on, not one to reach this node at`, "give the name or address other nodes reach this node at, such as dyn-0.dyn-peers.default.svc.cluster.local:7001")
  }
  return checked
}

/** `host:port`, `[v6]:port`; undefined when it is not one. */
export function splitAddress(address: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address)
  if (match === null) return undefined
  const port = Number(match[3])
  if (port < 1 || port > 65_535) return undefined
  return {host: match[1] ?? match[2] ?? '', port}
}

function address(field: string, value: unknown): string {
  if (typeof value !== 'string' || splitAddress(value) === undefined) {
    throw new ConfigError(field, `${show(value)} is not an address; use host:port with a port from 1 to 65535`, 'write host:port, such as 127.0.0.1:7002')
  }
  return value
}

function weight(field: string, value: unknown): number {
  return integer(field, value ?? configDefaults.weight, {min: 1, max: nodeWeightMax})
}

/** `seeds`: a non-empty list of host:port addresses. */
function seedList(value: unknown): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length === 0 || value.length > membersMax) {
    throw new ConfigError('seeds', `${show(value)} is not a list of 1 to ${membersMax} addresses`, 'write seeds as ["127.0.0.1:7001", ...]: nodes of the cluster to join')
  }
  return value.map((entry: unknown, index) => address(`seeds[${index}]`, entry))
}

function memberList(options: {name: string; self: string; file: unknown; peers: string | undefined; joining: boolean}): MemberConfig[] {
  // A joining node without a member list knows no member yet, not even itself as one.
  if (options.joining && options.file === undefined && options.peers === undefined) return []
  const members = options.peers !== undefined ? membersFromPeers(options) : membersFromFile(options)
  if (members.length > membersMax) throw new ConfigError('members', `${members.length} members is too many`, `list at most ${membersMax}`)
  checkUnique(members)
  if (!options.joining && !members.some((member) => member.name === options.name)) {
    throw new ConfigError('name', `${show(options.name)} is not one of members (${members.map((member) => member.name).join(', ')})`, 'list this node in members, give seeds (addresses of running nodes) to join a cluster, or correct its name')
  }
  return [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

function selfAddress(listen: HostPort): string {
  return listen.host.includes(':') ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`
}

function membersFromFile(options: {name: string; self: string; file: unknown}): MemberConfig[] {
  // No member list: a cluster of this node alone.
  if (options.file === undefined) return [{name: options.name, address: options.self, weight: configDefaults.weight}]
  if (!Array.isArray(options.file) || options.file.length === 0) {
    throw new ConfigError('members', `${show(options.file)} is not a list of members`, 'write members as [{"name": "n1", "address": "127.0.0.1:7001"}, ...]')
  }
  return options.file.map((entry: unknown, index) => {
    const field = `members[${index}]`
    const fields = objectOf(field, entry, memberFields)
    return {
      name: identifier(`${field}.name`, fields['name'], nodeNameLengthMax),
      address: address(`${field}.address`, fields['address']),
      weight: weight(`${field}.weight`, fields['weight']),
    }
  })
}

/** `--peers n2@127.0.0.1:7002,n3@...`: the members besides this node, which joins them at
 * its advertised (default: listen) address (a member list in the file is replaced). */
function membersFromPeers(options: {name: string; self: string; file: unknown; peers: string | undefined}): MemberConfig[] {
  const peers = (options.peers ?? '').split(',').map((item) => item.trim()).filter((item) => item.length > 0)
  const parsed = peers.map((item) => {
    const at = item.indexOf('@')
    if (at < 0) throw new ConfigError('peers', `${show(item)} is not NAME@HOST:PORT`, 'write --peers n2@127.0.0.1:7002,n3@127.0.0.1:7003')
    return {
      name: identifier('peers', item.slice(0, at), nodeNameLengthMax),
      address: address('peers', item.slice(at + 1)),
      weight: configDefaults.weight,
    }
  })
  return [{name: options.name, address: options.self, weight: configDefaults.weight}, ...parsed]
}

function checkUnique(members: readonly MemberConfig[]): void {
  const names = new Set<string>()
  const addresses = new Set<string>()
  for (const member of members) {
    if (names.has(member.name)) throw new ConfigError('members', `${show(member.name)} is listed twice`, 'give each member once, with a unique name')
    if (addresses.has(member.address)) {
      throw new ConfigError('members', `address ${member.address} is listed twice`, 'give each member its own host:port')
    }
    names.add(member.name)
    addresses.add(member.address)
  }
}
