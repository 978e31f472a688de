// The Kubernetes manifests (templates/kubernetes.yaml, `dyn init --template kubernetes`),
// checked offline: every object against the Kubernetes API schemas (the `kubernetes-models`
// package, generated from the OpenAPI document of Kubernetes 1.27), the objects' references
// to each other (selectors, service name, volumes, probe ports, the mounted paths the node
// configuration names), and the ConfigMap's node configuration through the daemon's own
// validator as each pod's flags complete it. Broken manifests are refused by the same checks.
import fc from 'fast-check'
import {PodDisruptionBudget} from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import {StatefulSet} from 'kubernetes-models/apps/v1/StatefulSet'
import {ConfigMap} from 'kubernetes-models/v1/ConfigMap'
import {Service} from 'kubernetes-models/v1/Service'
import {describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'
import {kubernetesNodeJson, kubernetesPodAddress, kubernetesPodName, renderTemplate, templateValues, type KubernetesSettings} from '../../src/cluster/index.js'
import {parseConfig} from '../../src/daemon/index.js'

const settings: KubernetesSettings = {
  cluster: 'dyn',
  namespace: 'store',
  replicas: 3,
  image: 'registry.example/dyn:0.1.0',
  storage: '20Gi',
  n: 3,
  r: 2,
  w: 2,
  partitions: 64,
  sync: 'always',
}

type Manifest = {kind: string; metadata: {name: string; namespace?: string}} & Record<string, unknown>

function render(values: KubernetesSettings): string {
  return renderTemplate('kubernetes', templateValues({template: 'kubernetes', kubernetes: values}))
}

function parse(text: string): Manifest[] {
  return parseAllDocuments(text).map((document) => {
    expect(document.errors, String(document.errors)).toEqual([])
    return document.toJS() as Manifest
  }).filter((manifest) => manifest !== null)
}

/** Validates one object against the schema of its kind; throws what the schema says. */
function validateSchema(manifest: Manifest): void {
  const models: Record<string, new (data: never) => {validate(): void}> = {ConfigMap, Service, PodDisruptionBudget, StatefulSet}
  const Model = models[manifest.kind]
  if (Model === undefined) throw new Error(`no schema for kind ${manifest.kind}`)
  new Model(manifest as never).validate()
}

function one(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const found = manifests.filter((manifest) => manifest.kind === kind && manifest.metadata.name === name)
  expect(found, `${kind} ${name}`).toHaveLength(1)
  return found[0]!
}

// The shapes read below; the schema check has vouched for them.
interface Container {
  args: string[]
  env: {name: string; value?: string}[]
  ports: {name: string; containerPort: number}[]
  volumeMounts: {name: string; mountPath: string}[]
  startupProbe: {httpGet: {path: string; port: string}}
  readinessProbe: {httpGet: {path: string; port: string}}
  livenessProbe: {httpGet: {path: string; port: string}}
  image: string
}
interface PodSpec {
  containers: Container[]
  volumes: {name: string; configMap?: {name: string}; secret?: {secretName: string}}[]
}
interface StatefulSetSpec {
  serviceName: string
  replicas: number
  selector: {matchLabels: Record<string, string>}
  template: {metadata: {labels: Record<string, string>}; spec: PodSpec}
  volumeClaimTemplates: {metadata: {name: string}; spec: {resources: {requests: {storage: string}}}}[]
}

/** Everything the manifests must agree on besides the schemas; throws on the first problem. */
function checkReferences(manifests: readonly Manifest[], values: KubernetesSettings): void {
  const {cluster} = values
  for (const manifest of manifests) expect(manifest.metadata.namespace, `${manifest.kind} ${manifest.metadata.name}`).toBe(values.namespace)
  const statefulSet = one(manifests, 'StatefulSet', cluster).spec as StatefulSetSpec
  const labels = statefulSet.template.metadata.labels
  const selects = (selector: Record<string, string>): boolean => Object.entries(selector).every(([key, value]) => labels[key] === value)
  expect(selects(statefulSet.selector.matchLabels), 'the StatefulSet selects its own pods').toBe(true)
  expect(statefulSet.replicas).toBe(values.replicas)

  const peers = one(manifests, 'Service', statefulSet.serviceName).spec as {clusterIP: string; publishNotReadyAddresses: boolean; selector: Record<string, string>; ports: {targetPort: string}[]}
  expect(statefulSet.serviceName).toBe(`${cluster}-peers`)
  expect(peers.clusterIP, 'the service of the StatefulSet is headless').toBe('None')
  expect(peers.publishNotReadyAddresses).toBe(true)
  const clients = one(manifests, 'Service', cluster).spec as {selector: Record<string, string>; ports: {targetPort: string}[]}
  const budget = one(manifests, 'PodDisruptionBudget', cluster).spec as {selector: {matchLabels: Record<string, string>}}
  for (const selector of [peers.selector, clients.selector, budget.selector.matchLabels]) expect(selects(selector)).toBe(true)

  const [container, ...others] = statefulSet.template.spec.containers
  expect(others).toEqual([])
  const ports = new Set(container!.ports.map((port) => port.name))
  for (const port of [...peers.ports, ...clients.ports]) expect(ports.has(port.targetPort), `target port ${port.targetPort}`).toBe(true)
  for (const probe of [container!.startupProbe, container!.readinessProbe, container!.livenessProbe]) {
    expect(probe.httpGet.path).toBe('/health')
    expect(container!.ports.find((port) => port.name === probe.httpGet.port)?.containerPort).toBe(8001)
  }
  expect(container!.image).toBe(values.image)

  // Volumes: each mount has a volume or a claim, the ConfigMap and the Secret are the ones named.
  const volumes = new Map(statefulSet.template.spec.volumes.map((volume) => [volume.name, volume]))
  const claims = new Set(statefulSet.volumeClaimTemplates.map((claim) => claim.metadata.name))
  for (const mount of container!.volumeMounts) expect(volumes.has(mount.name) || claims.has(mount.name), `volume ${mount.name}`).toBe(true)
  expect(volumes.get('config')?.configMap?.name).toBe(`${cluster}-config`)
  expect(volumes.get('secret')?.secret?.secretName).toBe(`${cluster}-secret`)
  expect(statefulSet.volumeClaimTemplates[0]?.spec.resources.requests.storage).toBe(values.storage)
  const mountOf = (name: string): string => container!.volumeMounts.find((mount) => mount.name === name)?.mountPath ?? ''

  // The node's flags and its configuration: the file, the data and the secret where mounted.
  const flag = (name: string): string | undefined => container!.args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
  expect(container!.args.slice(0, 2)).toEqual(['node', 'start'])
  const configPath = flag('config') ?? ''
  expect(configPath.startsWith(`${mountOf('config')}/`)).toBe(true)
  expect(flag('name')).toBe('$(POD_NAME)')
  expect(container!.env.map((variable) => variable.name)).toContain('POD_NAME')
  const configMap = one(manifests, 'ConfigMap', `${cluster}-config`) as Manifest & {data: Record<string, string>}
  const file = configMap.data[configPath.slice(mountOf('config').length + 1)]
  expect(file, 'the ConfigMap holds the file --config names').toBeDefined()
  for (const ordinal of [0, values.replicas - 1, values.replicas]) {
    const name = kubernetesPodName(cluster, ordinal)
    const advertise = (flag('advertise') ?? '').replaceAll('$(POD_NAME)', name)
    expect(advertise).toBe(kubernetesPodAddress(values, ordinal))
    const config = parseConfig(JSON.parse(file!) as unknown, {baseDir: mountOf('config'), overrides: {name, advertise}})
    expect(config.dataDir).toBe(mountOf('data'))
    expect(config.secretFile?.startsWith(`${mountOf('secret')}/`)).toBe(true)
    expect(config.listen.port).toBe(container!.ports.find((port) => port.name === 'wire')?.containerPort)
    expect(config.http.port).toBe(8001)
    // The first pods are the first members, at the address they advertise; later pods join through the seeds.
    const member = config.members.find((candidate) => candidate.name === name)
    expect(member?.address).toBe(ordinal < values.replicas ? advertise : undefined)
    expect(config.members).toHaveLength(values.replicas)
    expect([...(config.seeds ?? [])].sort()).toEqual(config.members.map((candidate) => candidate.address).sort())
    expect({n: config.n, r: config.r, w: config.w, partitions: config.partitions, sync: config.sync}).toEqual({n: values.n, r: values.r, w: values.w, partitions: values.partitions, sync: values.sync})
  }
}

function check(text: string, values: KubernetesSettings): Manifest[] {
  const manifests = parse(text)
  for (const manifest of manifests) validateSchema(manifest)
  checkReferences(manifests, values)
  return manifests
}

describe('the Kubernetes manifests', () => {
  it('are a ConfigMap, a headless and a client Service, a PodDisruptionBudget and a StatefulSet, each valid for its schema', () => {
    const manifests = check(render(settings), settings)
    expect(manifests.map((manifest) => `${manifest.kind} ${manifest.metadata.name}`)).toEqual([
      'ConfigMap dyn-config',
      'Service dyn-peers',
      'Service dyn',
      'PodDisruptionBudget dyn',
      'StatefulSet dyn',
    ])
    expect(render(settings)).not.toMatch(/\{\{|\}\}/)
  })

  it('hold together for any cluster name, namespace, size and quorum (property)', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}[a-z0-9]$/)
    fc.assert(
      fc.property(
        fc.record({cluster: label, namespace: label, replicas: fc.integer({min: 1, max: 12}), partitions: fc.constantFrom(8, 64, 1024), sync: fc.constantFrom('always', 'none', 'interval:50')}),
        fc.integer({min: 1, max: 3}),
        (drawn, nWanted) => {
          const n = Math.min(nWanted, drawn.replicas)
          const values: KubernetesSettings = {...settings, ...drawn, n, r: Math.ceil(n / 2), w: Math.floor(n / 2) + 1}
          check(render(values), values)
        },
      ),
      {numRuns: 25},
    )
  })

  it('give `dyn init` the same node configuration a YAML parser reads from the ConfigMap', () => {
    const text = render(settings)
    const configMap = one(parse(text), 'ConfigMap', 'dyn-config') as Manifest & {data: Record<string, string>}
    expect(kubernetesNodeJson(text)).toBe(configMap.data['node.json'])
  })
})

describe('broken manifests', () => {
  const good = (): Manifest[] => parse(render(settings))
  const statefulSetOf = (manifests: Manifest[]): StatefulSetSpec & Record<string, unknown> => one(manifests, 'StatefulSet', 'dyn').spec as StatefulSetSpec & Record<string, unknown>

  it.each<[string, (manifests: Manifest[]) => void, RegExp]>([
    ['replicas as text', (manifests) => void (statefulSetOf(manifests).replicas = 'three' as never), /replicas must be integer/],
    ['a container without an image name', (manifests) => void (statefulSetOf(manifests).template.spec.containers[0] = {image: 'x'} as never), /must have required property name/],
    ['a StatefulSet without a selector', (manifests) => void delete (statefulSetOf(manifests) as Partial<StatefulSetSpec>).selector, /must have required property selector/],
    ['a probe port that is no port', (manifests) => void (statefulSetOf(manifests).template.spec.containers[0]!.readinessProbe.httpGet = {path: '/health'} as never), /must have required property port/],
    ['a ConfigMap value that is no string', (manifests) => void ((one(manifests, 'ConfigMap', 'dyn-config') as Manifest & {data: Record<string, unknown>}).data['node.json'] = {cluster: 'dyn'}), /must be string/],
  ])('refuses %s against the schema', (_what, breakIt, message) => {
    const manifests = good()
    breakIt(manifests)
    expect(() => {
      for (const manifest of manifests) validateSchema(manifest)
    }).toThrow(message)
  })

  it.each<[string, (text: string) => string]>([
    ['a headless service under another name', (text) => text.replace('name: dyn-peers', 'name: dyn-headless')],
    ['a probe on a port the container does not have', (text) => text.replace('port: http', 'port: admin')],
    ['a Secret volume naming another Secret', (text) => text.replace('secretName: dyn-secret', 'secretName: other')],
    ['pods the selector does not select', (text) => text.replace(/(template:\n {4}metadata:\n {6}labels:\n {8}app\.kubernetes\.io\/name:) dyn/, '$1 other')],
    ['a node configuration N above its members', (text) => text.replace('"n": 3', '"n": 4')],
    ['a data directory off the volume', (text) => text.replace('"dataDir": "/var/lib/dyn"', '"dataDir": "/data"')],
  ])('refuses %s in the cross-checks', (_what, breakIt) => {
    const text = breakIt(render(settings))
    expect(text).not.toBe(render(settings))
    expect(() => check(text, settings)).toThrow()
  })
})
