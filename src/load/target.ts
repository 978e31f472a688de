// The benchmark's operations on a real cluster, through the client library: a read is a
// get, an update a put with the key's last known context.
import type {DynClient} from '../client/index.js'
import type {BenchTarget} from './runner.js'

export interface ClientTargetOptions {
  /** Per-request read quorum; the cluster's R when absent. */
  readonly r?: number | undefined
  /** Per-request write quorum; the cluster's W when absent. */
  readonly w?: number | undefined
}

export function clientTarget(client: DynClient, options: ClientTargetOptions = {}): BenchTarget {
  const readOptions = options.r === undefined ? {} : {r: options.r}
  const writeQuorum = options.w === undefined ? {} : {w: options.w}
  return {
    read: async (key) => {
      const result = await client.get(key, readOptions)
      return {found: result.found, context: result.context}
    },
    update: async (key, value, context) => {
      const result = await client.put(key, value, {...writeQuorum, ...(context === undefined ? {} : {context})})
      return {context: result.context}
    },
  }
}
