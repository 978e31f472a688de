// `dyn init`: writes a deployment file from a template (DESIGN §9, docs/deploy.md): a node
// configuration or a systemd unit, filled in from flags. A node configuration is checked
// with the daemon's own validator before it is written, so a file `dyn init` writes is one
// `dyn node start` accepts. Without --template it lists the templates.
import {readFileSync} from 'node:fs'
import {lstat, mkdir, readFile, rename, writeFile} from 'node:fs/promises'
import {dirname, isAbsolute, join, resolve} from 'node:path'
import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {parseAddress, type HostPort} from '../client/index.js'
import {caFile, clientName, ensureCertificateAuthority, issueCertificate, readCaCertificate} from '../cluster/certificates.js'
import {packageRoot} from '../cluster/program.js'
import {
  kubernetesNodeJson,
  kubernetesPodAddress,
  kubernetesPodName,
  renderTemplate,
  templateInfo,
  templateNames,
  templates,
  templatesDir,
  templateValues,
  type KubernetesSettings,
  type MemberSetting,
  type NodeSettings,
  type NodeTlsSettings,
  type TemplateName,
  type TemplateSettings,
  type UnitSettings,
} from '../cluster/templates.js'
import {DynError, exitCodes, unreachable} from '../core/errors.js'
import {ConfigError, configDefaults, configWarnings, InsecureListenError, membersMax, parseConfig, readTlsFiles, type DaemonConfig} from '../daemon/index.js'
import {jsonShapeVersion} from '../render/json.js'

/** Defaults of a node on a host of its own (docs/deploy.md): the usual data directory and
 * the HTTP admin port on loopback (DESIGN §11: bind to loopback unless told otherwise). */
export const initDefaults = {
  out: '.',
  http: '127.0.0.1:8001',
  localListen: '127.0.0.1:7001',
  dataDir: '/var/lib/dyn',
  configPath: '/etc/dyn/node.json',
  user: 'dyn',
  namespace: 'default',
  replicas: 3,
  storage: '10Gi',
} as const

/** Most pods of the first start: each is a first member, listed in the ConfigMap. */
export const kubernetesReplicasMax = membersMax

/** A StatefulSet's name is at most 52 characters (its pods get a 10-character revision hash
 * label on top, within 63); `-peers` is added for the headless service. */
const kubernetesClusterCharsMax = 40

/** A Service name, hence the cluster name here: an RFC 1035 label (a letter first). */
const dnsLabelPattern = /^[a-z]([-a-z0-9]*[a-z0-9])?$/

/** A namespace: an RFC 1123 label. */
const namespacePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** An image reference as registries write it: registry/path:tag or @sha256:digest. No
 * whitespace or quotes: it stands inside a YAML string. */
const imagePattern = /^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/

/** A volume size in the binary units Kubernetes quantities take. */
const storagePattern = /^[1-9][0-9]{0,5}(Mi|Gi|Ti)$/

/** Longest secret file read: a secret is at most 1024 characters (daemon/config.ts). */
const secretFileBytesMax = 4096

/** Name rule of useradd(8) for system users, which the unit's User= must follow. */
const userPattern = /^[a-z_][a-z0-9_-]{0,31}$/

/** Characters a path in the unit may not hold: systemd splits ExecStart at whitespace, reads
 * quotes and backslashes, and expands % specifiers. */
const unitPathUnsafe = /[\s"'\\%]/

const wildcardHosts: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]'])

export type ValueFlag =
  | 'name'
  | 'listen'
  | 'http'
  | 'members'
  | 'seeds'
  | 'data-dir'
  | 'cluster'
  | 'n'
  | 'r'
  | 'w'
  | 'partitions'
  | 'sync'
  | 'secret-file'
  | 'tls-dir'
  | 'config-path'
  | 'bin'
  | 'user'
  | 'namespace'
  | 'replicas'
  | 'image'
  | 'storage'

const nodeFlags: readonly ValueFlag[] = ['name', 'listen', 'http', 'data-dir', 'cluster', 'n', 'r', 'w', 'partitions', 'sync']

/** The flags each template takes; any other value flag is refused rather than ignored. */
export const templateFlags: Readonly<Record<TemplateName, readonly ValueFlag[]>> = {
  'local-cluster': [...nodeFlags, 'members'],
  node: [...nodeFlags, 'members', 'seeds', 'secret-file', 'tls-dir'],
  systemd: ['bin', 'config-path', 'user', 'data-dir'],
  kubernetes: ['cluster', 'namespace', 'replicas', 'image', 'storage', 'n', 'r', 'w', 'partitions', 'sync'],
}

/** The flag that sets each field of the node configuration, for errors of the validator. */
const fieldFlags: Readonly<Record<string, ValueFlag>> = {
  cluster: 'cluster',
  name: 'name',
  listen: 'listen',
  http: 'http',
  dataDir: 'data-dir',
  members: 'members',
  seeds: 'seeds',
  n: 'n',
  r: 'r',
  w: 'w',
  partitions: 'partitions',
  sync: 'sync',
  secret: 'secret-file',
}

/** The switches of `dyn init` besides --force, and the templates they apply to. */
export type InitSwitch = 'tls' | 'insecure'
const switchTemplates: Readonly<Record<InitSwitch, readonly TemplateName[]>> = {tls: ['node'], insecure: ['node']}

export class InitFlagError extends DynError {
  constructor(flag: string, problem: string, suggestion: string) {
    super(`${flag}: ${problem}`, {code: 'INIT_FLAG_INVALID', exitCode: exitCodes.usage, suggestion})
  }
}

export class FileExistsError extends DynError {
  constructor(path: string) {
    super(`${path} exists already`, {code: 'FILE_EXISTS', exitCode: exitCodes.error, suggestion: 'give --force to replace it, or another folder with --out'})
  }
}

export type InitFlags = Partial<Record<ValueFlag, string | number | undefined>> & {readonly out: string}

export default class Init extends BaseCommand {
  static override summary = 'Write a node configuration, a systemd unit or Kubernetes manifests from a template'

  static override description =
    'Fills in a template from templates/ with the flags and writes it into --out: `node` (one node of a cluster across hosts), ' +
    '`local-cluster` (the configuration `dyn cluster up` writes per node), `systemd` (a unit running `dyn node start`) or ' +
    '`kubernetes` (a StatefulSet with its services, ConfigMap and PodDisruptionBudget). ' +
    'A node configuration is validated as `dyn node start` would before it is written. An existing file is kept unless --force. ' +
    'Without --template, lists the templates. See docs/deploy.md.'

  static override examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init --template node --name n1 --listen 10.0.0.1:7001 --http 10.0.0.1:8001 --members n1@10.0.0.1:7001,n2@10.0.0.2:7001,n3@10.0.0.3:7001 --out /etc/dyn',
    '<%= config.bin %> init --template node --tls --tls-dir ./ca --secret-file ./secret --name n1 --listen 10.0.0.1:7001 --members n1@10.0.0.1:7001,n2@10.0.0.2:7001,n3@10.0.0.3:7001 --out ./n1',
    '<%= config.bin %> init --template node --name n4 --listen 10.0.0.4:7001 --seeds 10.0.0.1:7001,10.0.0.2:7001 --secret-file ./secret --out /etc/dyn',
    '<%= config.bin %> init --template systemd --out /etc/systemd/system',
    '<%= config.bin %> init --template kubernetes --namespace dyn --replicas 3 --image registry.example/dyn:0.1.0 --storage 20Gi',
  ]

  static override flags = {
    template: Flags.string({char: 't', description: `template to fill in: ${templateNames.join(', ')}`}),
    out: Flags.string({char: 'o', default: initDefaults.out, description: 'folder to write the file into (created if missing)'}),
    force: Flags.boolean({default: false, description: 'replace the file if it exists'}),
    name: Flags.string({description: "[node, local-cluster] this node's name"}),
    listen: Flags.string({description: `[node, local-cluster] HOST:PORT of the wire protocol; for node, this host's address as the other hosts reach it (local-cluster default: ${initDefaults.localListen})`}),
    http: Flags.string({description: `[node, local-cluster] HOST:PORT of the HTTP admin port (/health, /status, /metrics) [default: ${initDefaults.http}]`}),
    members: Flags.string({description: '[node, local-cluster] the first members of a new cluster, this node included: NAME@HOST:PORT,... (the same list on every host)'}),
    seeds: Flags.string({description: '[node] HOST:PORT,... of running nodes, for a node joining a cluster'}),
    'data-dir': Flags.string({description: `store directory [default: ${initDefaults.dataDir}; local-cluster: OUT/data]`}),
    cluster: Flags.string({description: `[node, local-cluster, kubernetes] cluster name; for kubernetes also the StatefulSet's [default: ${configDefaults.cluster}]`}),
    n: Flags.integer({description: `[node, local-cluster, kubernetes] replicas per key [default: ${configDefaults.n}, at most the --members or --replicas given]`}),
    r: Flags.integer({description: `[node, local-cluster, kubernetes] default read quorum [default: ${configDefaults.r}, at most N]`}),
    w: Flags.integer({description: `[node, local-cluster, kubernetes] default write quorum [default: ${configDefaults.w}, at most N]`}),
    partitions: Flags.integer({description: `[node, local-cluster, kubernetes] partition count Q, a power of two from 8 to 4096 [default: ${configDefaults.partitions}]`}),
    sync: Flags.string({description: `[node, local-cluster, kubernetes] durability: always, interval:MS or none [default: ${configDefaults.sync}]`}),
    'secret-file': Flags.string({description: '[node] file holding the cluster secret (16 to 1024 characters, the same on every node)'}),
    tls: Flags.boolean({
      default: false,
      description: `[node] TLS with client certificates: writes NAME.pem and NAME-key.pem (this node's certificate, for its listen address, 127.0.0.1 and localhost) and ${caFile} into --out, signed by the development CA in --tls-dir (made there if missing, with ${clientName}.pem and ${clientName}-key.pem for the commands); needs openssl`,
    }),
    'tls-dir': Flags.string({
      description: `[node] folder of the cluster's CA (${caFile}, ca-key.pem) for --tls [default: --out, fine for one host to try; for a cluster give a folder kept off the nodes, since ca-key.pem signs any certificate]`,
    }),
    insecure: Flags.boolean({default: false, description: '[node] let the node listen off loopback without --secret-file or --tls (on a network only trusted hosts reach)'}),
    'config-path': Flags.string({description: `[systemd] the node configuration the unit starts from [default: ${initDefaults.configPath}]`}),
    bin: Flags.string({description: "[systemd] absolute path of the dyn program [default: this installation's bin/run.js]"}),
    user: Flags.string({description: `[systemd] user and group the node runs as [default: ${initDefaults.user}]`}),
    namespace: Flags.string({description: `[kubernetes] namespace of every object [default: ${initDefaults.namespace}]`}),
    replicas: Flags.integer({description: `[kubernetes] pods at the first start, the first members; scale later with cluster join/leave [default: ${initDefaults.replicas}]`}),
    image: Flags.string({description: "[kubernetes] container image with dyn installed as `dyn` [default: dyn:VERSION, this installation's version]"}),
    storage: Flags.string({description: `[kubernetes] size of each pod's volume, such as 10Gi [default: ${initDefaults.storage}]`}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Init)
    if (flags.template === undefined) {
      const given = [...valueFlagsGiven(flags), ...switchesGiven(flags)]
      if (given.length > 0) throw new InitFlagError(`--${given[0] ?? ''}`, 'needs --template', `give --template ${templateNames.join('|')}`)
      return this.list()
    }
    const result = await initTemplate({template: flags.template, flags, force: flags.force, tls: flags.tls, insecure: flags.insecure})
    if (!this.jsonEnabled()) {
      for (const warning of result.warnings) process.stderr.write(`${warning}\n`)
      this.log(`${result.overwritten ? 'replaced' : 'wrote'} ${result.path} (template ${result.template})`)
      if (result.tls !== undefined) this.log(`wrote ${[result.tls.cert, result.tls.key, result.tls.ca].join(', ')}${result.tls.caCreated ? `; made the CA ${result.tls.caCert} and the commands' ${result.tls.client.join(', ')}` : ''}`)
      this.log(`Next: ${result.next.join('\n      ')}`)
    }
    return {version: jsonShapeVersion, ...result}
  }

  private list(): unknown {
    const listed = templateNames.map((name) => {
      const info = templates[name]
      const placeholders = Object.entries(info.placeholders).map(([placeholder, about]) => ({name: placeholder, optional: about.optional, meaning: about.meaning}))
      return {name, path: join(templatesDir(), info.file), output: info.output, summary: info.summary, flags: templateFlags[name].map((flag) => `--${flag}`), placeholders}
    })
    if (!this.jsonEnabled()) {
      for (const entry of listed) this.log(`${entry.name.padEnd(14)} ${entry.summary}\n${''.padEnd(14)} writes ${entry.output}; flags: ${entry.flags.join(' ')}`)
      this.log('Write one with: dyn init --template NAME [--out DIR] (docs/deploy.md)')
    }
    return {version: jsonShapeVersion, templates: listed}
  }
}

export interface InitOptions {
  readonly template: string
  /** The command's flags: --out and the value flags, undefined when not given. */
  readonly flags: InitFlags
  readonly force: boolean
  /** --tls: certificates for the node (template node only). */
  readonly tls?: boolean
  /** --insecure: "insecure": true in the configuration (template node only). */
  readonly insecure?: boolean
}

/** The TLS files `dyn init --tls` wrote or used (absolute paths). */
export interface InitTlsFiles {
  readonly cert: string
  readonly key: string
  /** The CA certificate copied next to the configuration. */
  readonly ca: string
  /** The CA's own certificate and key in --tls-dir. */
  readonly caCert: string
  readonly caKey: string
  /** Whether the CA was made by this run (else an existing one in --tls-dir signed). */
  readonly caCreated: boolean
  /** The commands' certificate and key in --tls-dir, made once with the CA. */
  readonly client: readonly string[]
}

export interface InitResult {
  readonly template: TemplateName
  readonly path: string
  readonly overwritten: boolean
  /** The daemon's warnings about the configuration (configWarnings). */
  readonly warnings: readonly string[]
  readonly next: readonly string[]
  readonly tls?: InitTlsFiles
}

/** Fills in the template from the flags, validates a node configuration, writes the file. */
export async function initTemplate(options: InitOptions): Promise<InitResult> {
  const name = templateInfo(options.template).name
  checkApplicable(name, valueFlagsGiven(options.flags))
  checkSwitches(name, {tls: options.tls === true, insecure: options.insecure === true})
  if (options.flags['tls-dir'] !== undefined && options.tls !== true) throw new InitFlagError('--tls-dir', 'is given without --tls', 'give --tls too, or leave --tls-dir out')
  const out = resolve(options.flags.out)
  const path = join(out, templates[name].output)
  const base = await settingsOf(name, options.flags, out)
  const tlsNode = options.tls === true && base.template === 'node' ? base.node : undefined
  const settings: TemplateSettings =
    base.template === 'node'
      ? {template: 'node', node: {...base.node, ...(tlsNode === undefined ? {} : {tls: nodeTlsFiles(tlsNode.name)}), ...(options.insecure === true ? {insecure: true} : {})}}
      : base
  const rendered = renderTemplate(name, templateValues(settings))
  // Validated before any file is written: a refused configuration leaves no stray keys.
  const config = validateRendered(settings, rendered, out)
  if (!options.force && (await exists(path))) throw new FileExistsError(path)
  const tls = tlsNode === undefined ? undefined : await writeTlsFiles({node: tlsNode, out, caDir: resolve(text(options.flags, 'tls-dir') ?? out), force: options.force})
  if (config?.tls !== undefined) await readTlsFiles(config.tls)
  const warnings = renderedWarnings(settings, rendered, config)
  const secret = (settings.template === 'node' || settings.template === 'local-cluster') && settings.node.secret !== undefined
  const overwritten = await writeOutput({path, text: rendered, force: options.force, secret})
  return {template: name, path, overwritten, warnings, next: nextSteps(settings, path, tls), ...(tls === undefined ? {} : {tls})}
}

function switchesGiven(flags: {readonly tls: boolean; readonly insecure: boolean}): InitSwitch[] {
  return (['tls', 'insecure'] as const).filter((flag) => flags[flag])
}

function checkSwitches(name: TemplateName, given: Readonly<Record<InitSwitch, boolean>>): void {
  for (const flag of ['tls', 'insecure'] as const) {
    if (given[flag] && !switchTemplates[flag].includes(name)) {
      throw new InitFlagError(`--${flag}`, `does not apply to --template ${name}`, `--${flag} applies to --template ${switchTemplates[flag].join(', ')}`)
    }
  }
}

/** The TLS settings a node configuration written with --tls holds: files next to it. */
function nodeTlsFiles(name: string): NodeTlsSettings {
  return {cert: `${name}.pem`, key: `${name}-key.pem`, ca: caFile, requireClientCert: true}
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false
      throw error
    },
  )
}

/** The names a node's certificate is valid for: its listen address (unless a wildcard),
 * its address in the member list, and loopback, for the commands run on its host. */
function certificateHosts(node: NodeSettings): string[] {
  const own = node.members?.find((member) => member.name === node.name)?.address
  const hosts = [node.listen.host, ...(own === undefined ? [] : [parseAddress(own).host]), '127.0.0.1', 'localhost']
  return hosts.filter((host) => !wildcardHosts.has(host))
}

/** Signs this node's certificate with the CA in caDir (made there if missing, with the
 * commands' certificate), and puts the node's files and the CA certificate into out. */
async function writeTlsFiles(options: {node: NodeSettings; out: string; caDir: string; force: boolean}): Promise<InitTlsFiles> {
  const {node, out, caDir} = options
  const files = nodeTlsFiles(node.name)
  if (!options.force) {
    for (const file of [files.cert, files.key]) if (await exists(join(out, file))) throw new FileExistsError(join(out, file))
  }
  await mkdir(out, {recursive: true})
  await mkdir(caDir, {recursive: true, mode: 0o700})
  const ca = await ensureCertificateAuthority(caDir, node.cluster)
  const issued = await issueCertificate({ca, dir: out, file: node.name, name: node.name, hosts: certificateHosts(node)})
  const caCopy = join(out, caFile)
  if (resolve(caCopy) !== resolve(ca.certPath)) await writeFile(caCopy, await readCaCertificate(ca), {mode: 0o644})
  const clientCert = join(caDir, `${clientName}.pem`)
  const clientKey = join(caDir, `${clientName}-key.pem`)
  if (ca.created || !(await exists(clientCert))) await issueCertificate({ca, dir: caDir, file: clientName, name: `${node.cluster} ${clientName}`, hosts: []})
  return {cert: issued.certPath, key: issued.keyPath, ca: caCopy, caCert: ca.certPath, caKey: ca.keyPath, caCreated: ca.created, client: [clientCert, clientKey]}
}

function valueFlagsGiven(flags: Readonly<Record<string, unknown>>): ValueFlag[] {
  const all = new Set<string>(Object.values(templateFlags).flat())
  return Object.keys(flags).filter((flag): flag is ValueFlag => all.has(flag) && flags[flag] !== undefined)
}

function checkApplicable(name: TemplateName, given: readonly ValueFlag[]): void {
  const allowed = templateFlags[name]
  const stray = given.find((flag) => !allowed.includes(flag))
  if (stray !== undefined) {
    throw new InitFlagError(`--${stray}`, `does not apply to --template ${name}`, `the ${name} template takes ${allowed.map((flag) => `--${flag}`).join(', ')}`)
  }
}

async function settingsOf(name: TemplateName, flags: InitFlags, out: string): Promise<TemplateSettings> {
  switch (name) {
    case 'local-cluster':
    case 'node':
      return {template: name, node: await nodeSettings(name, flags, out)}
    case 'systemd':
      return {template: name, unit: unitSettings(flags)}
    case 'kubernetes':
      return {template: name, kubernetes: kubernetesSettings(flags)}
    default:
      return unreachable(name)
  }
}

/** A node configuration as the daemon will read it (throws what it would refuse). */
function validateRendered(settings: TemplateSettings, text: string, out: string): DaemonConfig | undefined {
  return settings.template === 'local-cluster' || settings.template === 'node' ? validate(text, {baseDir: out}) : undefined
}

/** The warnings the daemon will log about the configuration. */
function renderedWarnings(settings: TemplateSettings, text: string, config: DaemonConfig | undefined): string[] {
  switch (settings.template) {
    case 'local-cluster':
    case 'node':
      return config === undefined ? [] : configWarnings(config)
    case 'systemd':
      return []
    case 'kubernetes':
      return kubernetesWarnings(settings.kubernetes, text)
    default:
      return unreachable(settings)
  }
}

// ---- node configurations ----

function text(flags: InitFlags, flag: ValueFlag): string | undefined {
  const value = flags[flag]
  return value === undefined ? undefined : String(value)
}

function number(flags: InitFlags, flag: ValueFlag, fallback: number): number {
  const value = flags[flag]
  return typeof value === 'number' ? value : fallback
}

async function nodeSettings(name: 'local-cluster' | 'node', flags: InitFlags, out: string): Promise<NodeSettings> {
  const nodeName = text(flags, 'name')
  if (nodeName === undefined) throw new InitFlagError('--name', 'is missing', "give this node's name, such as --name n1")
  const listenText = text(flags, 'listen') ?? (name === 'local-cluster' ? initDefaults.localListen : undefined)
  if (listenText === undefined) throw new InitFlagError('--listen', 'is missing', "give this host's address and the wire port, such as --listen 10.0.0.1:7001")
  const listen = hostPort('--listen', listenText)
  const members = membersOf(text(flags, 'members'))
  const seeds = seedsOf(text(flags, 'seeds'))
  if (name === 'node' && members === undefined && seeds === undefined) {
    throw new InitFlagError('--members', 'is missing, and so is --seeds', 'give --members NAME@HOST:PORT,... for the first nodes of a new cluster, or --seeds HOST:PORT,... to join a running one')
  }
  if (members === undefined && seeds !== undefined && wildcardHosts.has(listen.host)) {
    throw new InitFlagError('--listen', `${listenText}: a node joining through --seeds announces its listen address to the cluster, and ${listen.host} is no address to reach it at`, "give this host's own address, such as --listen 10.0.0.4:7001")
  }
  const secretPath = text(flags, 'secret-file')
  // A local node alone knows itself as the only member, as `dyn node start` does.
  const firstMembers = members ?? (name === 'local-cluster' ? [{name: nodeName, address: listenText, weight: configDefaults.weight}] : undefined)
  // N cannot exceed the first members (a joining node takes the cluster's, hence the default).
  const n = number(flags, 'n', Math.min(configDefaults.n, firstMembers?.length ?? configDefaults.n))
  return {
    cluster: text(flags, 'cluster') ?? configDefaults.cluster,
    name: nodeName,
    listen,
    http: hostPort('--http', text(flags, 'http') ?? initDefaults.http),
    dataDir: resolve(text(flags, 'data-dir') ?? (name === 'local-cluster' ? join(out, 'data') : initDefaults.dataDir)),
    members: firstMembers,
    seeds,
    n,
    r: number(flags, 'r', Math.min(configDefaults.r, n)),
    w: number(flags, 'w', Math.min(configDefaults.w, n)),
    partitions: number(flags, 'partitions', configDefaults.partitions),
    sync: text(flags, 'sync') ?? configDefaults.sync,
    secret: secretPath === undefined ? undefined : await readSecret(secretPath),
  }
}

function hostPort(flag: string, value: string): HostPort {
  try {
    return parseAddress(value)
  } catch {
    throw new InitFlagError(flag, `${JSON.stringify(value)} is not HOST:PORT`, `write ${flag} HOST:PORT with a port from 1 to 65535, such as 10.0.0.1:7001`)
  }
}

function listOf(value: string): string[] {
  return value.split(',').map((item) => item.trim()).filter((item) => item.length > 0)
}

/** `--members n1@10.0.0.1:7001,...`; the daemon's validator checks names and duplicates. */
function membersOf(value: string | undefined): MemberSetting[] | undefined {
  if (value === undefined) return undefined
  const members = listOf(value).map((item) => {
    const at = item.indexOf('@')
    const example = 'write --members n1@10.0.0.1:7001,n2@10.0.0.2:7001,n3@10.0.0.3:7001'
    if (at <= 0) throw new InitFlagError('--members', `${JSON.stringify(item)} is not NAME@HOST:PORT`, example)
    const address = item.slice(at + 1)
    hostPort('--members', address)
    return {name: item.slice(0, at), address, weight: configDefaults.weight}
  })
  if (members.length === 0) throw new InitFlagError('--members', 'lists no member', 'list every first member, this node included')
  return members
}

function seedsOf(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined
  const seeds = listOf(value)
  for (const seed of seeds) hostPort('--seeds', seed)
  if (seeds.length === 0) throw new InitFlagError('--seeds', 'lists no address', 'write --seeds HOST:PORT,... of running nodes')
  return seeds
}

async function readSecret(path: string): Promise<string> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (error) {
    throw new InitFlagError('--secret-file', `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, 'give a file holding the cluster secret, such as one written by `openssl rand -base64 32`')
  }
  if (bytes.length > secretFileBytesMax) throw new InitFlagError('--secret-file', `${path} is ${bytes.length} bytes`, 'the file must hold only the secret, 16 to 1024 characters')
  // A trailing newline is how editors and `openssl rand -base64` end the file, not part of the secret.
  return bytes.toString('utf8').replace(/\r?\n$/, '')
}

/** Validates the generated configuration as `dyn node start --config` will read it, with
 * the flags a pod gives it (`overrides`). */
function validate(text: string, options: {baseDir: string; overrides?: {name: string; advertise: string}}): DaemonConfig {
  try {
    return parseConfig(JSON.parse(text) as unknown, {baseDir: options.baseDir, ...(options.overrides === undefined ? {} : {overrides: options.overrides})})
  } catch (error) {
    if (error instanceof InsecureListenError) {
      throw new InitFlagError('--listen', `${error.message.replace(/^listen\.host: /, '')}`, 'give --secret-file FILE and/or --tls (docs/deploy.md), listen on 127.0.0.1, or give --insecure on a network only trusted hosts reach')
    }
    if (!(error instanceof ConfigError)) throw error
    const flag = fieldFlags[error.field.split(/[.[]/)[0] ?? '']
    throw new DynError(`the configuration would be invalid: ${error.message}${flag === undefined ? '' : ` (set by --${flag})`}`, {
      code: 'CONFIG_INVALID',
      exitCode: exitCodes.usage,
      ...(error.suggestion === undefined ? {} : {suggestion: error.suggestion}),
    })
  }
}

// ---- the systemd unit ----

function unitPath(flag: string, value: string, options: {mustBeAbsolute: boolean}): string {
  if (options.mustBeAbsolute && !isAbsolute(value)) throw new InitFlagError(flag, `${value} is not an absolute path`, `give the absolute path, such as ${flag} "$(command -v dyn)"`)
  const path = resolve(value)
  if (unitPathUnsafe.test(path)) throw new InitFlagError(flag, `${JSON.stringify(path)} contains whitespace, a quote, a backslash or %`, 'use a path without them (systemd would split or expand it)')
  return path
}

/** The program of this installation: the package's own entry script, which exists wherever
 * the package is installed (npm links `dyn` to it from a folder that depends on its prefix). */
export function defaultBin(): string {
  return join(packageRoot(), 'bin', 'run.js')
}

function unitSettings(flags: InitFlags): UnitSettings {
  const user = text(flags, 'user') ?? initDefaults.user
  if (!userPattern.test(user)) throw new InitFlagError('--user', `${JSON.stringify(user)} is not a user name`, 'use 1 to 32 lower-case letters, digits, _ or -, starting with a letter or _')
  return {
    bin: unitPath('--bin', text(flags, 'bin') ?? defaultBin(), {mustBeAbsolute: true}),
    configPath: unitPath('--config-path', text(flags, 'config-path') ?? initDefaults.configPath, {mustBeAbsolute: false}),
    user,
    dataDir: unitPath('--data-dir', text(flags, 'data-dir') ?? initDefaults.dataDir, {mustBeAbsolute: false}),
  }
}

// ---- the Kubernetes manifests ----

/** The version of this installation, for the default image tag. */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {version?: unknown}
  return typeof manifest.version === 'string' ? manifest.version : 'latest'
}

function matching(flag: ValueFlag, value: string, pattern: RegExp, rule: string): string {
  if (!pattern.test(value)) throw new InitFlagError(`--${flag}`, `${JSON.stringify(value)} is not allowed`, rule)
  return value
}

function kubernetesSettings(flags: InitFlags): KubernetesSettings {
  const cluster = text(flags, 'cluster') ?? configDefaults.cluster
  const labelRule = `use 1 to ${kubernetesClusterCharsMax} lower-case letters, digits or '-', starting with a letter and ending with a letter or digit: it names the StatefulSet and its services`
  if (cluster.length > kubernetesClusterCharsMax) throw new InitFlagError('--cluster', `${JSON.stringify(cluster)} is longer than ${kubernetesClusterCharsMax} characters`, labelRule)
  const replicas = number(flags, 'replicas', initDefaults.replicas)
  if (replicas < 1 || replicas > kubernetesReplicasMax) throw new InitFlagError('--replicas', `${replicas} is not allowed`, `give 1 to ${kubernetesReplicasMax} pods`)
  const n = number(flags, 'n', Math.min(configDefaults.n, replicas))
  return {
    cluster: matching('cluster', cluster, dnsLabelPattern, labelRule),
    namespace: matching('namespace', text(flags, 'namespace') ?? initDefaults.namespace, namespacePattern, "use 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit"),
    replicas,
    image: matching('image', text(flags, 'image') ?? `dyn:${packageVersion()}`, imagePattern, 'give an image reference such as registry.example/dyn:0.1.0, without spaces or quotes'),
    storage: matching('storage', text(flags, 'storage') ?? initDefaults.storage, storagePattern, 'give a size in Mi, Gi or Ti, such as 10Gi'),
    n,
    r: number(flags, 'r', Math.min(configDefaults.r, n)),
    w: number(flags, 'w', Math.min(configDefaults.w, n)),
    partitions: number(flags, 'partitions', configDefaults.partitions),
    sync: text(flags, 'sync') ?? configDefaults.sync,
  }
}

/** Validates the ConfigMap's node configuration as the first pod and as a pod added by
 * scaling up read it (their flags give the name and the advertised address). */
function kubernetesWarnings(settings: KubernetesSettings, rendered: string): string[] {
  const json = kubernetesNodeJson(rendered)
  const podConfig = (ordinal: number): DaemonConfig =>
    validate(json, {baseDir: '/etc/dyn/config', overrides: {name: kubernetesPodName(settings.cluster, ordinal), advertise: kubernetesPodAddress(settings, ordinal)}})
  podConfig(settings.replicas)
  return configWarnings(podConfig(0))
}

// ---- writing ----

/** Writes atomically (a temporary file renamed over the target); true when it replaced one. */
async function writeOutput(options: {path: string; text: string; force: boolean; secret: boolean}): Promise<boolean> {
  const existed = await exists(options.path)
  if (existed && !options.force) throw new FileExistsError(options.path)
  await mkdir(dirname(options.path), {recursive: true})
  const temporary = `${options.path}.tmp-${process.pid}`
  // A configuration holding the secret is not for every local user to read.
  await writeFile(temporary, options.text, {mode: options.secret ? 0o640 : 0o644})
  await rename(temporary, options.path)
  return existed
}

function nextSteps(settings: TemplateSettings, path: string, tls: InitTlsFiles | undefined): string[] {
  switch (settings.template) {
    case 'local-cluster':
    case 'node':
      return [
        `dyn node start --config ${path}   (runs the node in the foreground)`,
        ...(tls === undefined
          ? []
          : [`export DYN_TLS_CA=${tls.caCert} DYN_TLS_CERT=${tls.client[0] ?? ''} DYN_TLS_KEY=${tls.client[1] ?? ''}   (for the commands; keep ${tls.caKey} off the nodes)`]),
        `dyn init --template systemd --config-path ${path} --data-dir ${settings.node.dataDir} --out /etc/systemd/system   (runs it as a service)`,
      ]
    case 'systemd': {
      const installed = '/etc/systemd/system/dyn.service'
      return [...(path === installed ? [] : [`install -m 0644 ${path} ${installed}`]), 'systemctl daemon-reload', 'systemctl enable --now dyn']
    }
    case 'kubernetes': {
      const {cluster, namespace} = settings.kubernetes
      return [
        `kubectl create namespace ${namespace}   (unless it exists)`,
        `kubectl -n ${namespace} create secret generic ${cluster}-secret --from-file=secret=SECRET_FILE   (openssl rand -base64 32 > SECRET_FILE)`,
        `kubectl apply -f ${path}`,
        `kubectl -n ${namespace} exec ${kubernetesPodName(cluster, 0)} -- dyn cluster status   (docs/deploy.md)`,
      ]
    }
    default:
      return unreachable(settings)
  }
}
