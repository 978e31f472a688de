// A node's HTTP health endpoint (GET /health -> 200 {"status":"ok","name":...}).
import fetch from 'node-fetch'
import type {TlsClientSettings} from '../net/index.js'
import {adminHttp} from './admin-http.js'

/** How long one health probe waits: a serving node answers /health in well under a
 * millisecond on loopback; 1 s counts a stalled one as unhealthy without stalling `status`. */
export const healthProbeTimeoutMs = 1_000

export type Health = {readonly ok: true; readonly name: string} | {readonly ok: false; readonly problem: string}

/** Probes http://ADDRESS/health (https:// with TLS settings); never throws. */
export async function probeHealth(httpAddress: string, options: {timeoutMs?: number; tls?: TlsClientSettings} = {}): Promise<Health> {
  try {
    const http = adminHttp(options.tls)
    const response = await fetch(http.url(httpAddress, '/health'), {signal: AbortSignal.timeout(options.timeoutMs ?? healthProbeTimeoutMs), ...(http.agent === undefined ? {} : {agent: http.agent})})
    if (response.status !== 200) return {ok: false, problem: `HTTP ${response.status}`}
    const body = (await response.json()) as {status?: unknown; name?: unknown}
    if (body.status !== 'ok') return {ok: false, problem: `status ${String(body.status)}`}
    return {ok: true, name: typeof body.name === 'string' ? body.name : ''}
  } catch (error) {
    return {ok: false, problem: error instanceof Error ? error.message : String(error)}
  }
}
