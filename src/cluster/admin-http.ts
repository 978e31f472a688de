// Requests to a node's HTTP admin port (/health, /status, /metrics; docs/node.md): plain
// HTTP, or HTTPS with the client's TLS settings when the node serves TLS (DESIGN §11). The
// admin port asks for no client certificate; the CA is what matters here.
import {Agent} from 'node:https'
import type {TlsClientSettings} from '../net/index.js'

export interface AdminHttp {
  /** The URL of `path` on the admin port at `httpAddress` (host:port). */
  url(httpAddress: string, path: string): string
  /** The agent that carries the TLS settings; undefined for plain HTTP. */
  readonly agent: Agent | undefined
}

/** How to reach admin ports: HTTPS trusting `tls.ca` when TLS settings are given. */
export function adminHttp(tls: TlsClientSettings | undefined): AdminHttp {
  if (tls === undefined) return {url: (httpAddress, path) => `http://${httpAddress}${path}`, agent: undefined}
  const agent = new Agent({
    ...(tls.ca === undefined ? {} : {ca: tls.ca}),
    ...(tls.cert === undefined ? {} : {cert: tls.cert}),
    ...(tls.key === undefined ? {} : {key: tls.key}),
  })
  return {url: (httpAddress, path) => `https://${httpAddress}${path}`, agent}
}
