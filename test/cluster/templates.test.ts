// The template renderer (src/cluster/templates.ts): placeholders, typed substitution,
// refusals naming what is wrong; and the shipped templates against the code that fills
// them: every placeholder known, and every node configuration accepted by the daemon's
// own validator.
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  fillJson,
  fillText,
  loadTemplate,
  nodeConfig,
  placeholdersOf,
  planCluster,
  readTemplate,
  renderJsonTemplate,
  renderTemplate,
  templateInfo,
  templateNames,
  templates,
  templateValues,
  TemplateFileError,
  TemplateValuesError,
  UnknownTemplateError,
  type NodeSettings,
  type TemplateName,
  type TemplateSettings,
  type TemplateValue,
} from '../../src/cluster/index.js'
import {parseConfig} from '../../src/daemon/index.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-templates-'))
})

afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

function thrown(attempt: () => unknown): unknown {
  try {
    attempt()
  } catch (error) {
    return error
  }
  throw new Error('expected an error')
}

describe('placeholders', () => {
  it('finds whole, embedded and optional placeholders in JSON, each once, in order', () => {
    const text = '{"a": "{{port}}", "b": ["{{list?}}", "x-{{name}}-{{port}}"], "c": {"d": "{{secret?}}"}}'
    expect(placeholdersOf(text, 'json')).toEqual([
      {name: 'port', optional: false},
      {name: 'list', optional: true},
      {name: 'name', optional: false},
      {name: 'secret', optional: true},
    ])
  })

  it('finds the placeholders of a text template', () => {
    expect(placeholdersOf('ExecStart={{bin}} --config {{configPath}}\nUser={{user}}\n', 'text').map((placeholder) => placeholder.name)).toEqual(['bin', 'configPath', 'user'])
  })

  it.each([
    ['{"a": "{{ name }}"}', 'json', /malformed placeholder/],
    ['{"a": "{{1name}}"}', 'json', /malformed placeholder/],
    ['{"a": "{{name"}', 'json', /malformed placeholder/],
    ['{"a": "x-{{name?}}"}', 'json', /optional placeholder must be a whole JSON string value/],
    ['{"{{key}}": 1}', 'json', /property name/],
    ['{"a": "{{name}}", "b": "{{name?}}"}', 'json', /both optional and required/],
    ['{"a": {{port}}}', 'json', /not valid JSON/],
    ['User={{user?}}', 'text', /optional placeholder/],
    ['User={{user}', 'text', /malformed placeholder/],
  ] as const)('refuses a malformed template: %s', (text, format, message) => {
    const error = thrown(() => placeholdersOf(text, format, 'bad.json'))
    expect(error).toBeInstanceOf(TemplateFileError)
    expect((error as Error).message).toMatch(message)
    expect((error as Error).message).toContain('bad.json')
  })
})

describe('filling a JSON template', () => {
  const template = '{"name": "{{name}}", "port": "{{port}}", "members": "{{members}}", "flag": "{{flag}}", "address": "{{host}}:{{port}}"}'

  it('puts a whole-value placeholder in as its typed value and an embedded one as text', () => {
    const members = [{name: 'n1', address: '10.0.0.1:7001', weight: 1}]
    expect(fillJson(template, {name: 'n1', port: 7001, members, flag: true, host: '10.0.0.1'})).toEqual({
      name: 'n1',
      port: 7001,
      members,
      flag: true,
      address: '10.0.0.1:7001',
    })
  })

  it('removes a property or list entry whose optional placeholder has no value, and fills it when it has one', () => {
    const text = '{"a": 1, "secret": "{{secret?}}", "list": ["x", "{{extra?}}", "y"]}'
    expect(fillJson(text, {})).toEqual({a: 1, list: ['x', 'y']})
    expect(fillJson(text, {secret: undefined, extra: undefined})).toEqual({a: 1, list: ['x', 'y']})
    expect(fillJson(text, {secret: 's'.repeat(16), extra: ['z']})).toEqual({a: 1, secret: 's'.repeat(16), list: ['x', ['z'], 'y']})
  })

  it('refuses missing and unknown values, naming every one', () => {
    const error = thrown(() => fillJson(template, {name: 'n1', port: 7001, colour: 'red', size: 3}, {source: 'node.json'}))
    expect(error).toBeInstanceOf(TemplateValuesError)
    expect((error as TemplateValuesError).missing).toEqual(['members', 'flag', 'host'])
    expect((error as TemplateValuesError).unknown).toEqual(['colour', 'size'])
    expect((error as Error).message).toBe('template node.json: no value for {{members}}, {{flag}}, {{host}}; it has no placeholder {{colour}}, {{size}}')
    expect((error as TemplateValuesError).exitCode).toBe(2)
  })

  it('refuses a value JSON cannot hold and a list inside text', () => {
    expect(() => fillJson('{"a": "{{n}}"}', {n: Number.NaN})).toThrow(/\{\{n\}\} is NaN/)
    expect(() => fillJson('{"a": "x{{n}}"}', {n: [1, 2]})).toThrow(/stands inside text/)
  })

  it('returns any JSON value put in as a whole value unchanged (property)', () => {
    const jsonValue: fc.Arbitrary<TemplateValue> = fc.jsonValue({maxDepth: 3}).filter((value) => value !== null && !containsNull(value)) as fc.Arbitrary<TemplateValue>
    fc.assert(
      fc.property(jsonValue, oneLine, (value, text) => {
        const filled = fillJson('{"whole": "{{v}}", "list": ["{{v}}"], "embedded": "<{{t}}>"}', {v: value, t: text}) as Record<string, unknown>
        expect(filled.whole).toEqual(value)
        expect(filled.list).toEqual([value])
        expect(filled.embedded).toBe(`<${text}>`)
      }),
      {numRuns: 200},
    )
  })
})

/** Text without control characters, which text substitution refuses. */
const oneLine = fc.string({maxLength: 20}).filter((text) => [...text].every((character) => character.charCodeAt(0) >= 0x20 && character.charCodeAt(0) !== 0x7f))

function containsNull(value: unknown): boolean {
  if (value === null) return true
  if (Array.isArray(value)) return value.some(containsNull)
  if (typeof value === 'object') return Object.values(value as object).some(containsNull)
  return false
}

describe('filling a text template', () => {
  it('puts values in as text', () => {
    expect(fillText('ExecStart={{bin}} node start --config {{config}}\nLimitNOFILE={{files}}\n', {bin: '/usr/bin/dyn', config: '/etc/dyn/node.json', files: 65536})).toBe(
      'ExecStart=/usr/bin/dyn node start --config /etc/dyn/node.json\nLimitNOFILE=65536\n',
    )
  })

  it('refuses a value with a line break: it would add a directive', () => {
    const error = thrown(() => fillText('User={{user}}\n', {user: 'dyn\nExecStartPre=/bin/sh'}))
    expect(error).toBeInstanceOf(TemplateValuesError)
    expect((error as Error).message).toMatch(/\{\{user\}\} contains a line break/)
  })

  it('refuses a value that is not text', () => {
    expect(() => fillText('User={{user}}', {user: {name: 'dyn'}})).toThrow(/must be a string or a number/)
  })
})

describe('the shipped templates', () => {
  it('declare exactly the placeholders their files use, optional ones marked alike', () => {
    for (const name of templateNames) {
      const info = templates[name]
      const found = placeholdersOf(readTemplate(name), info.format, info.file)
      const declared = Object.entries(info.placeholders).map(([placeholder, about]) => ({name: placeholder, optional: about.optional}))
      const byName = (a: {name: string}, b: {name: string}): number => a.name.localeCompare(b.name)
      expect([...found].sort(byName), name).toEqual(declared.sort(byName))
      expect(() => loadTemplate(name)).not.toThrow()
    }
  })

  it('get a value for every placeholder from their settings, and none for names they lack', () => {
    for (const settings of fullSettings()) {
      const values = templateValues(settings)
      const given = Object.keys(values).filter((key) => values[key] !== undefined).sort()
      const declared = Object.keys(templates[settings.template].placeholders).sort()
      expect(given, settings.template).toEqual(declared)
    }
  })

  it('refuse a template file that drifted from the code: an unknown placeholder, a missing one', async () => {
    const drifted = join(dir, 'drifted')
    const lacking = join(dir, 'lacking')
    const original = readTemplate('systemd')
    await Promise.all([mkdir(drifted), mkdir(lacking)])
    await writeFile(join(drifted, 'dyn.service'), `${original}Environment=COLOUR={{colour}}\n`)
    await writeFile(join(lacking, 'dyn.service'), original.replace('User={{user}}', 'User=dyn').replace('Group={{user}}', 'Group=dyn'))
    expect(() => loadTemplate('systemd', {dir: drifted})).toThrow(/dyn\.service uses \{\{colour\}\}, which dyn does not know/)
    expect(() => loadTemplate('systemd', {dir: lacking})).toThrow(/dyn\.service lacks \{\{user\}\}/)
    expect(() => readTemplate('node', {dir: join(dir, 'none')})).toThrow(TemplateFileError)
  })

  it('are found by name; an unknown name is a usage error listing them', () => {
    expect(templateInfo('systemd').file).toBe('dyn.service')
    const error = thrown(() => templateInfo('nomad'))
    expect(error).toBeInstanceOf(UnknownTemplateError)
    expect((error as UnknownTemplateError).exitCode).toBe(2)
    expect((error as Error).message).toContain('local-cluster, node, systemd, kubernetes')
  })
})

const nodeSettings: NodeSettings = {
  cluster: 'prod',
  name: 'n1',
  listen: {host: '10.0.0.1', port: 7001},
  http: {host: '10.0.0.1', port: 8001},
  dataDir: '/var/lib/dyn',
  members: [
    {name: 'n1', address: '10.0.0.1:7001', weight: 1},
    {name: 'n2', address: '10.0.0.2:7001', weight: 1},
    {name: 'n3', address: '10.0.0.3:7001', weight: 2},
  ],
  seeds: ['10.0.0.2:7001'],
  n: 3,
  r: 2,
  w: 2,
  partitions: 128,
  sync: 'interval:10',
  secret: 'a-secret-of-more-than-16-characters',
}

const nodeTls = {cert: 'n4.pem', key: 'n4-key.pem', ca: 'ca.pem', requireClientCert: true}

/** Settings that give every template every value it can take. */
function fullSettings(): TemplateSettings[] {
  return [
    {template: 'local-cluster', node: {...nodeSettings, seeds: undefined, secret: undefined}},
    {template: 'node', node: {...nodeSettings, tls: nodeTls, insecure: true}},
    {template: 'systemd', unit: {bin: '/usr/local/bin/dyn', configPath: '/etc/dyn/node.json', user: 'dyn', dataDir: '/var/lib/dyn'}},
    {template: 'kubernetes', kubernetes: {cluster: 'prod', namespace: 'store', replicas: 3, image: 'dyn:0.1.0', storage: '10Gi', n: 3, r: 2, w: 2, partitions: 128, sync: 'always'}},
  ]
}

describe('node configurations from the templates', () => {
  it.each<[string, TemplateName, NodeSettings]>([
    ['a local node', 'local-cluster', {...nodeSettings, listen: {host: '127.0.0.1', port: 7001}, seeds: undefined, secret: undefined}],
    ['a first member of a cluster across hosts, with a secret', 'node', {...nodeSettings, seeds: undefined}],
    ['a node joining through seeds, with TLS', 'node', {...nodeSettings, name: 'n4', listen: {host: '10.0.0.4', port: 7001}, members: undefined, secret: undefined, tls: nodeTls}],
    ['a node with neither, insecure', 'node', {...nodeSettings, secret: undefined, insecure: true}],
  ])('%s passes the daemon validator with the values given', (_what, template, settings) => {
    const text = renderTemplate(template, templateValues({template, node: settings} as TemplateSettings))
    const config = parseConfig(JSON.parse(text) as unknown, {baseDir: '/etc/dyn'})
    expect(config.tls).toEqual(settings.tls === undefined ? undefined : {cert: '/etc/dyn/n4.pem', key: '/etc/dyn/n4-key.pem', ca: '/etc/dyn/ca.pem', requireClientCert: true})
    expect(config.insecure).toBe(settings.insecure === true)
    expect(config).toMatchObject({cluster: 'prod', name: settings.name, listen: settings.listen, http: settings.http, dataDir: '/var/lib/dyn', n: 3, r: 2, w: 2, partitions: 128, sync: 'interval:10'})
    expect(config.members.map((member) => member.name)).toEqual(settings.members?.map((member) => member.name) ?? [])
    expect(config.seeds).toEqual(settings.seeds)
    expect(config.secret).toEqual(settings.secret)
    expect(text.endsWith('}\n')).toBe(true)
  })

  it('`cluster up` writes templates/local-cluster.json filled in, and the daemon accepts it', () => {
    const file = planCluster(dir, {nodes: 3, n: 3, r: 2, w: 2, partitions: 16, basePort: 30001, sync: 'none', cluster: 'c1'})
    for (const node of file.nodes) {
      const written = nodeConfig(file, node)
      const values = templateValues({
        template: 'local-cluster',
        node: {
          cluster: 'c1',
          name: node.name,
          listen: {host: node.host, port: node.port},
          http: {host: node.host, port: node.httpPort},
          dataDir: node.dataDir,
          members: file.nodes.map((member) => ({name: member.name, address: `${member.host}:${member.port}`, weight: 1})),
          n: 3,
          r: 2,
          w: 2,
          partitions: 16,
          sync: 'none',
        },
      })
      expect(written).toEqual(renderJsonTemplate('local-cluster', values))
      expect(parseConfig(written, {baseDir: '/'})).toMatchObject({name: node.name, listen: {port: node.port}, http: {port: node.httpPort}, members: expect.any(Array)})
    }
  })

  it('the systemd unit has its values in place and no placeholder left', () => {
    const [, , unit] = fullSettings()
    const text = renderTemplate('systemd', templateValues(unit!))
    expect(text).toContain('\nExecStart=/usr/local/bin/dyn node start --config /etc/dyn/node.json\n')
    expect(text).toContain('\nUser=dyn\n')
    expect(text).toContain('\nReadWritePaths=/var/lib/dyn\n')
    expect(text).not.toMatch(/\{\{|\}\}/)
  })
})
