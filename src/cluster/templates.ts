// Deployment templates (DESIGN §2, §9): the files in ROOT/templates that `dyn cluster up`
// and `dyn init` fill in. A template is a file with placeholders; this module knows every
// template and every placeholder, so that a template and the code filling it cannot drift
// apart unnoticed: a placeholder the code does not know, a value the template has no place
// for, and a required value not given are all refused, naming them.
//
// Placeholder syntax (templates/README.md):
//   {{name}}    replaced by the value of `name`; a name is a letter then letters or digits.
//   {{name?}}   optional; only as a whole JSON string value (see below).
// In a JSON template, a string that is exactly one placeholder, "{{port}}", is replaced by
// the value itself, whatever its type (number, list, object), so the template stays valid
// JSON and the result has the right types; an optional one without a value removes its
// property (or list entry). A placeholder inside a longer string, and every placeholder of
// a text template, is replaced by the value's text: a string or a number, on one line.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {HostPort} from '../client/index.js'
import {DynError, exitCodes, unreachable} from '../core/errors.js'
import {packageRoot} from './program.js'

export type TemplateName = 'local-cluster' | 'node' | 'systemd' | 'kubernetes'

export type TemplateFormat = 'json' | 'text'

export interface PlaceholderInfo {
  /** An optional placeholder may be left without a value; it is written `{{name?}}`. */
  readonly optional: boolean
  readonly meaning: string
}

export interface TemplateInfo {
  readonly name: TemplateName
  /** The template's file in the templates folder. */
  readonly file: string
  readonly format: TemplateFormat
  /** The file name `dyn init` writes. */
  readonly output: string
  readonly summary: string
  /** Every placeholder of the file, by name. */
  readonly placeholders: Readonly<Record<string, PlaceholderInfo>>
}

const required = (meaning: string): PlaceholderInfo => ({optional: false, meaning})
const optional = (meaning: string): PlaceholderInfo => ({optional: true, meaning})

/** The placeholders of a node configuration (docs/node.md), shared by both node templates. */
const nodePlaceholders = {
  cluster: required('cluster name, the same on every node'),
  name: required("this node's name"),
  listenHost: required('address the wire protocol listens on'),
  listenPort: required('wire-protocol port'),
  httpHost: required('address the HTTP admin port listens on'),
  httpPort: required('HTTP admin port'),
  dataDir: required('absolute path of the store directory'),
  n: required('replicas per key'),
  r: required('default read quorum'),
  w: required('default write quorum'),
  partitions: required('partition count Q, fixed for the life of the cluster'),
  sync: required('durability: always, interval:MS or none'),
} as const

export const templates: Readonly<Record<TemplateName, TemplateInfo>> = {
  'local-cluster': {
    name: 'local-cluster',
    file: 'local-cluster.json',
    format: 'json',
    output: 'node.json',
    summary: 'the configuration `dyn cluster up` writes for each node of a local cluster',
    placeholders: {...nodePlaceholders, members: required('every member: [{name, address, weight}]')},
  },
  node: {
    name: 'node',
    file: 'node.json',
    format: 'json',
    output: 'node.json',
    summary: 'one node of a cluster across hosts: its listen address, and the first members or the seeds to join through',
    placeholders: {
      ...nodePlaceholders,
      members: optional('the first members of a new cluster: [{name, address, weight}]'),
      seeds: optional('wire addresses of running nodes, for a node joining a cluster'),
      secret: optional('cluster secret, the same on every node'),
      tls: optional('TLS files: {cert, key, ca, requireClientCert}'),
      insecure: optional('true to serve off loopback without a secret or TLS'),
    },
  },
  systemd: {
    name: 'systemd',
    file: 'dyn.service',
    format: 'text',
    output: 'dyn.service',
    summary: 'a systemd unit running `dyn node start --config FILE` as a dedicated user',
    placeholders: {
      bin: required('absolute path of the dyn program'),
      configPath: required('absolute path of the node configuration'),
      user: required('user and group the node runs as'),
      dataDir: required('the store directory, the only path the node may write'),
    },
  },
  kubernetes: {
    name: 'kubernetes',
    file: 'kubernetes.yaml',
    format: 'text',
    output: 'kubernetes.yaml',
    summary: 'a cluster on Kubernetes: StatefulSet, headless service for the seeds, ConfigMap, client service, PodDisruptionBudget',
    placeholders: {
      cluster: required('cluster name, also the name of the StatefulSet and its services'),
      namespace: required('namespace of every object'),
      replicas: required('pods at the first start, the first members'),
      image: required('container image with dyn installed'),
      storage: required('size of each pod volume'),
      members: required('the first members as JSON: [{name, address, weight}]'),
      seeds: required('wire addresses of the first members as JSON, for pods added later'),
      n: required('replicas per key'),
      r: required('default read quorum'),
      w: required('default write quorum'),
      partitions: required('partition count Q, fixed for the life of the cluster'),
      sync: required('durability: always, interval:MS or none'),
    },
  },
}

export const templateNames: readonly TemplateName[] = Object.keys(templates) as TemplateName[]

/** A value to put in place of a placeholder: what JSON can hold. */
export type TemplateValue = string | number | boolean | readonly TemplateValue[] | {readonly [key: string]: TemplateValue}

/** Values by placeholder name; an undefined value is one not given. */
export type TemplateValues = Readonly<Record<string, TemplateValue | undefined>>

// ---- errors ----

export class UnknownTemplateError extends DynError {
  constructor(name: string) {
    super(`there is no template ${JSON.stringify(name)}; the templates are ${templateNames.join(', ')}`, {
      code: 'TEMPLATE_UNKNOWN',
      exitCode: exitCodes.usage,
      suggestion: `give one of ${templateNames.join(', ')} (\`dyn init\` lists them)`,
    })
  }
}

/** The template file is missing, unreadable, or not what this version of dyn expects. */
export class TemplateFileError extends DynError {
  constructor(path: string, problem: string) {
    super(`template ${path} ${problem}`, {
      code: 'TEMPLATE_INVALID',
      exitCode: exitCodes.error,
      suggestion: 'reinstall dyn: its templates folder must be the one of this version',
    })
  }
}

/** Values that do not fit the template: required ones missing, ones it has no place for,
 * or one of the wrong kind. */
export class TemplateValuesError extends DynError {
  readonly missing: readonly string[]
  readonly unknown: readonly string[]

  constructor(template: string, problems: {missing?: readonly string[]; unknown?: readonly string[]; other?: string}) {
    const missing = problems.missing ?? []
    const unknown = problems.unknown ?? []
    const parts = [
      ...(missing.length === 0 ? [] : [`no value for ${missing.map((name) => `{{${name}}}`).join(', ')}`]),
      ...(unknown.length === 0 ? [] : [`it has no placeholder ${unknown.map((name) => `{{${name}}}`).join(', ')}`]),
      ...(problems.other === undefined ? [] : [problems.other]),
    ]
    super(`template ${template}: ${parts.join('; ')}`, {
      code: 'TEMPLATE_VALUES',
      exitCode: exitCodes.usage,
      suggestion: 'give a value for every required placeholder and none for names the template lacks (`dyn init --json` lists them)',
    })
    this.missing = missing
    this.unknown = unknown
  }
}

// ---- finding templates ----

export function templatesDir(): string {
  return join(packageRoot(), 'templates')
}

export function templateInfo(name: string): TemplateInfo {
  if (!Object.hasOwn(templates, name)) throw new UnknownTemplateError(name)
  return templates[name as TemplateName]
}

/** Template texts already read, by path: `cluster up` fills one per node. */
const texts = new Map<string, string>()

/** The template's text, from `dir` (default: the package's templates folder). */
export function readTemplate(name: TemplateName, options: {dir?: string} = {}): string {
  const path = join(options.dir ?? templatesDir(), templates[name].file)
  const cached = texts.get(path)
  if (cached !== undefined) return cached
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new TemplateFileError(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  texts.set(path, text)
  return text
}

// ---- placeholders ----

export interface Placeholder {
  readonly name: string
  readonly optional: boolean
}

const placeholderPattern = /\{\{([A-Za-z][A-Za-z0-9]*)(\?)?\}\}/g
const wholePattern = /^\{\{([A-Za-z][A-Za-z0-9]*)(\?)?\}\}$/

/** A malformed template: the problem, for TemplateFileError. */
class TemplateSyntaxError extends Error {}

/** The placeholders of one string; throws TemplateSyntaxError for braces that are not one
 * or an optional placeholder where `wholeValue` is false. */
function placeholdersIn(text: string, wholeValue: boolean): Placeholder[] {
  const found = [...text.matchAll(placeholderPattern)].map((match) => ({name: match[1] ?? '', optional: match[2] === '?'}))
  const rest = text.replace(placeholderPattern, '')
  if (rest.includes('{{') || rest.includes('}}')) throw new TemplateSyntaxError(`has a malformed placeholder in ${JSON.stringify(text)}; write {{name}}`)
  const misplaced = found.find((placeholder) => placeholder.optional && !wholeValue)
  if (misplaced !== undefined) throw new TemplateSyntaxError(`has {{${misplaced.name}?}} in ${JSON.stringify(text)}; an optional placeholder must be a whole JSON string value`)
  return found
}

/** Every string value of a parsed JSON template. Property names are not filled, so a
 * placeholder in one is refused. */
function* stringsOf(value: unknown): Generator<string> {
  if (typeof value === 'string') {
    yield value
  } else if (Array.isArray(value)) {
    for (const item of value) yield* stringsOf(item)
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('{{')) throw new TemplateSyntaxError(`has a placeholder in the property name ${JSON.stringify(key)}; only values are filled`)
      yield* stringsOf(item)
    }
  }
}

function parseJsonTemplate(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new TemplateSyntaxError(`is not valid JSON (${error instanceof Error ? error.message : String(error)})`)
  }
}

function scan(text: string, format: TemplateFormat): Placeholder[] {
  switch (format) {
    case 'json':
      return [...stringsOf(parseJsonTemplate(text))].flatMap((string) => placeholdersIn(string, wholePattern.test(string)))
    case 'text':
      return placeholdersIn(text, false)
    default:
      return unreachable(format)
  }
}

/** The distinct placeholders of a template text, in order of first use; throws
 * TemplateFileError naming `source` when the text is malformed. */
export function placeholdersOf(text: string, format: TemplateFormat, source = 'text'): Placeholder[] {
  let found: Placeholder[]
  try {
    found = scan(text, format)
  } catch (error) {
    if (error instanceof TemplateSyntaxError) throw new TemplateFileError(source, error.message)
    throw error
  }
  const byName = new Map<string, Placeholder>()
  for (const placeholder of found) {
    const seen = byName.get(placeholder.name)
    if (seen !== undefined && seen.optional !== placeholder.optional) throw new TemplateFileError(source, `has {{${placeholder.name}}} both optional and required`)
    byName.set(placeholder.name, placeholder)
  }
  return [...byName.values()]
}

// ---- filling ----

/** Checks the values against the placeholders: every required one given, none unknown. */
function checkValues(template: string, placeholders: readonly Placeholder[], values: TemplateValues): void {
  const names = new Set(placeholders.map((placeholder) => placeholder.name))
  const missing = placeholders.filter((placeholder) => !placeholder.optional && values[placeholder.name] === undefined).map((placeholder) => placeholder.name)
  const unknown = Object.keys(values).filter((name) => values[name] !== undefined && !names.has(name))
  if (missing.length > 0 || unknown.length > 0) throw new TemplateValuesError(template, {missing, unknown})
  for (const [name, value] of Object.entries(values)) if (value !== undefined) checkJsonable(template, name, value)
}

function checkJsonable(template: string, name: string, value: TemplateValue): void {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TemplateValuesError(template, {other: `{{${name}}} is ${value}, which JSON cannot hold`})
  if (Array.isArray(value)) for (const item of value as readonly TemplateValue[]) checkJsonable(template, name, item)
  else if (typeof value === 'object') for (const item of Object.values(value)) checkJsonable(template, name, item)
}

/** Control characters (newlines above all) would start a new line, and so a new directive,
 * in a text template such as a systemd unit. */
function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}

function asText(template: string, name: string, value: TemplateValue | undefined): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (typeof value !== 'string') throw new TemplateValuesError(template, {other: `{{${name}}} stands inside text, so its value must be a string or a number, not ${JSON.stringify(value)}`})
  if (hasControlCharacter(value)) throw new TemplateValuesError(template, {other: `the value of {{${name}}} contains a line break or another control character`})
  return value
}

function replaceInText(template: string, text: string, values: TemplateValues): string {
  return text.replace(placeholderPattern, (_whole, name: string) => asText(template, name, values[name]))
}

/** Marks a property or list entry an optional placeholder without a value removes. */
const omitted = Symbol('omitted')

function fillValue(template: string, value: unknown, values: TemplateValues): unknown {
  if (typeof value === 'string') {
    const whole = wholePattern.exec(value)
    if (whole === null) return replaceInText(template, value, values)
    return values[whole[1] ?? ''] ?? omitted
  }
  if (Array.isArray(value)) return value.map((item) => fillValue(template, item, values)).filter((item) => item !== omitted)
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([key, item]) => [key, fillValue(template, item, values)] as const)
    return Object.fromEntries(entries.filter(([, item]) => item !== omitted))
  }
  return value
}

/** Fills a JSON template; returns the parsed, filled document. */
export function fillJson(text: string, values: TemplateValues, options: {source?: string} = {}): unknown {
  const source = options.source ?? 'text'
  checkValues(source, placeholdersOf(text, 'json', source), values)
  return fillValue(source, parseJsonTemplate(text), values)
}

/** Fills a text template. */
export function fillText(text: string, values: TemplateValues, options: {source?: string} = {}): string {
  const source = options.source ?? 'text'
  checkValues(source, placeholdersOf(text, 'text', source), values)
  return replaceInText(source, text, values)
}

/** Reads a template and checks that its placeholders are the ones this module declares: a
 * template file of another version is refused rather than filled half. */
export function loadTemplate(name: TemplateName, options: {dir?: string} = {}): string {
  const info = templates[name]
  const text = readTemplate(name, options)
  const source = info.file
  const found = placeholdersOf(text, info.format, source)
  for (const placeholder of found) {
    const declared = info.placeholders[placeholder.name]
    if (declared === undefined) throw new TemplateFileError(source, `uses {{${placeholder.name}}}, which dyn does not know`)
    if (declared.optional !== placeholder.optional) throw new TemplateFileError(source, `has {{${placeholder.name}}} ${placeholder.optional ? 'optional' : 'required'}; dyn expects it ${declared.optional ? 'optional' : 'required'}`)
  }
  const absent = Object.keys(info.placeholders).filter((declared) => !found.some((placeholder) => placeholder.name === declared))
  if (absent.length > 0) throw new TemplateFileError(source, `lacks ${absent.map((declared) => `{{${declared}}}`).join(', ')}`)
  return text
}

/** The filled template as the text of a file (JSON: two-space indented, newline-ended). */
export function renderTemplate(name: TemplateName, values: TemplateValues, options: {dir?: string} = {}): string {
  const info = templates[name]
  const text = loadTemplate(name, options)
  switch (info.format) {
    case 'json':
      return `${JSON.stringify(fillJson(text, values, {source: info.file}), null, 2)}\n`
    case 'text':
      return fillText(text, values, {source: info.file})
    default:
      return unreachable(info.format)
  }
}

/** The filled JSON template as a document. */
export function renderJsonTemplate(name: 'local-cluster' | 'node', values: TemplateValues, options: {dir?: string} = {}): unknown {
  return fillJson(loadTemplate(name, options), values, {source: templates[name].file})
}

// ---- values from settings ----

export interface MemberSetting {
  readonly name: string
  /** host:port of its wire listener. */
  readonly address: string
  readonly weight: number
}

/** What a node configuration template needs (docs/node.md). */
export interface NodeSettings {
  readonly cluster: string
  readonly name: string
  readonly listen: HostPort
  readonly http: HostPort
  readonly dataDir: string
  readonly members?: readonly MemberSetting[] | undefined
  readonly seeds?: readonly string[] | undefined
  readonly n: number
  readonly r: number
  readonly w: number
  readonly partitions: number
  readonly sync: string
  readonly secret?: string | undefined
  /** TLS files, paths relative to the configuration's folder or absolute (docs/node.md). */
  readonly tls?: NodeTlsSettings | undefined
  /** Only `true` is written; a node is secure by default. */
  readonly insecure?: boolean | undefined
}

export interface NodeTlsSettings {
  readonly cert: string
  readonly key: string
  readonly ca: string
  readonly requireClientCert: boolean
}

/** What the systemd unit needs. */
export interface UnitSettings {
  readonly bin: string
  readonly configPath: string
  readonly user: string
  readonly dataDir: string
}

/** What the Kubernetes manifests need. */
export interface KubernetesSettings {
  /** A DNS label starting with a letter: it names the StatefulSet, its pods and services. */
  readonly cluster: string
  readonly namespace: string
  /** Pods at the first start; pods 0 .. replicas-1 are the first members. */
  readonly replicas: number
  readonly image: string
  /** A Kubernetes quantity, such as 10Gi. */
  readonly storage: string
  readonly n: number
  readonly r: number
  readonly w: number
  readonly partitions: number
  readonly sync: string
}

export type TemplateSettings =
  | {readonly template: 'local-cluster' | 'node'; readonly node: NodeSettings}
  | {readonly template: 'systemd'; readonly unit: UnitSettings}
  | {readonly template: 'kubernetes'; readonly kubernetes: KubernetesSettings}

/** The wire port of a node in a pod; the manifests name it `wire`. */
export const kubernetesWirePort = 7001

/** The name of pod (and node) `ordinal` of the StatefulSet. */
export function kubernetesPodName(cluster: string, ordinal: number): string {
  return `${cluster}-${ordinal}`
}

/** The address pod `ordinal` advertises: its stable name under the headless service. */
export function kubernetesPodAddress(settings: {cluster: string; namespace: string}, ordinal: number): string {
  return `${kubernetesPodName(settings.cluster, ordinal)}.${settings.cluster}-peers.${settings.namespace}.svc.cluster.local:${kubernetesWirePort}`
}

/** The node configuration the manifests' ConfigMap holds, read back from the filled text
 * (the `node.json: |` block scalar, indented four spaces), so that `dyn init` can check it
 * with the daemon's validator without a YAML parser. */
export function kubernetesNodeJson(text: string): string {
  const lines = text.split('\n')
  const start = lines.findIndex((line) => line === '  node.json: |')
  if (start < 0) throw new TemplateFileError(templates.kubernetes.file, 'has no "  node.json: |" block in its ConfigMap')
  const block: string[] = []
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('    ') && line.trim() !== '') break
    block.push(line.slice(4))
  }
  // As YAML reads a `|` block: the lines, ending in exactly one newline.
  return `${block.join('\n').replace(/\n+$/, '')}\n`
}

/** The placeholder values of a template from its settings. */
export function templateValues(settings: TemplateSettings): TemplateValues {
  switch (settings.template) {
    case 'local-cluster':
    case 'node':
      return nodeValues(settings.node)
    case 'systemd':
      return {...settings.unit}
    case 'kubernetes':
      return kubernetesValues(settings.kubernetes)
    default:
      return unreachable(settings)
  }
}

function kubernetesValues(settings: KubernetesSettings): TemplateValues {
  const ordinals = Array.from({length: settings.replicas}, (_, ordinal) => ordinal)
  const members = ordinals.map((ordinal) => ({name: kubernetesPodName(settings.cluster, ordinal), address: kubernetesPodAddress(settings, ordinal), weight: 1}))
  return {
    cluster: settings.cluster,
    namespace: settings.namespace,
    replicas: settings.replicas,
    image: settings.image,
    storage: settings.storage,
    // JSON on one line inside the ConfigMap's node.json.
    members: JSON.stringify(members),
    seeds: JSON.stringify(members.map((member) => member.address)),
    n: settings.n,
    r: settings.r,
    w: settings.w,
    partitions: settings.partitions,
    sync: settings.sync,
  }
}

function nodeValues(node: NodeSettings): TemplateValues {
  return {
    cluster: node.cluster,
    name: node.name,
    listenHost: node.listen.host,
    listenPort: node.listen.port,
    httpHost: node.http.host,
    httpPort: node.http.port,
    dataDir: node.dataDir,
    members: node.members?.map((member) => ({name: member.name, address: member.address, weight: member.weight})),
    seeds: node.seeds === undefined ? undefined : [...node.seeds],
    n: node.n,
    r: node.r,
    w: node.w,
    partitions: node.partitions,
    sync: node.sync,
    secret: node.secret,
    tls: node.tls === undefined ? undefined : {cert: node.tls.cert, key: node.tls.key, ca: node.tls.ca, requireClientCert: node.tls.requireClientCert},
    insecure: node.insecure === true ? true : undefined,
  }
}
