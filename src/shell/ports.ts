// The session's ports on a real cluster: a quiet read before a contextless put, the node
// list for `use` and completion, and the readable form of a context token.
import {resolve} from 'node:path'
import {DynClient} from '../client/index.js'
import {addressOf, readClusterFile} from '../cluster/layout.js'
import {resolveTarget, type TargetOptions} from '../cluster/target.js'
import {readableContext} from '../render/index.js'
import type {KeyState, SessionPorts, SessionTarget} from './session.js'

/** How long the quiet read before a contextless put may take: it only decides a warning. */
export const probeTimeoutMs = 2_000

export function clusterPorts(target: SessionTarget): Omit<SessionPorts, 'runner' | 'out' | 'err'> {
  let cluster: Promise<string> | undefined
  const clusterName = () => (cluster ??= resolveTarget(baseOptions(target)).then((resolved) => resolved.cluster))
  return {
    probe: (key, options) => probe(key, options),
    nodes: () => nodes(target),
    readableContext: async (token) => readableContext(token, await clusterName()),
  }
}

function baseOptions(target: SessionTarget): TargetOptions {
  return {dir: target.dir, ...(target.host === undefined ? {} : {host: target.host}), ...(target.cluster === undefined ? {} : {cluster: target.cluster})}
}

async function probe(key: string, options: TargetOptions): Promise<KeyState | undefined> {
  let client: DynClient | undefined
  try {
    client = new DynClient({...(await resolveTarget(options)), timeoutMs: probeTimeoutMs})
    const result = await client.get(key)
    return {found: result.found, values: result.siblings.length}
  } catch {
    // The put itself reports what is wrong with the cluster; the warning is only a courtesy.
    return undefined
  } finally {
    await client?.close()
  }
}

async function nodes(target: SessionTarget): Promise<{name: string; address: string}[]> {
  if (target.host === undefined) {
    const file = await readClusterFile(resolve(target.dir))
    return file.nodes.map((node) => ({name: node.name, address: addressOf(node)}))
  }
  const client = new DynClient({...(await resolveTarget(baseOptions(target))), routing: 'direct'})
  try {
    return (await client.ring()).nodes.map((node) => ({name: node.name, address: node.address}))
  } finally {
    await client.close()
  }
}
