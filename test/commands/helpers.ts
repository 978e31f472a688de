// Runs the command-line program from the sources as a real process, the way a person or a
// script does, so exit codes and output are what they would see.
import {randomInt} from 'node:crypto'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'

export const root = fileURLToPath(new URL('../..', import.meta.url))

/** A base port for a test cluster (wire ports from it, HTTP ports 1000 above): random, so
 * parallel runs rarely collide, and below Linux's ephemeral range (32768 and up), where a
 * client connection's own port can hold a listening port for a minute in TIME-WAIT. */
export function randomBasePort(): number {
  return randomInt(20_000, 31_000)
}

export interface Run {
  exitCode: number
  stdout: string
  stderr: string
}

/** Runs `dyn ARGS` through bin/dev.js; never rejects. */
export async function dyn(
  args: readonly string[],
  options: {cwd?: string; input?: string | Uint8Array; timeoutMs?: number; env?: Record<string, string>} = {},
): Promise<Run> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DYN_HOST: undefined,
    DYN_DIR: undefined,
    DYN_CLUSTER: undefined,
    DYN_SECRET_FILE: undefined,
    DYN_TLS_CA: undefined,
    DYN_TLS_CERT: undefined,
    DYN_TLS_KEY: undefined,
    NODE_ENV: undefined,
    ...options.env,
  }
  const result = await execa(process.execPath, ['--import', 'tsx', join(root, 'bin', 'dev.js'), ...args], {
    cwd: options.cwd ?? root,
    env,
    extendEnv: false,
    reject: false,
    timeout: options.timeoutMs ?? 30_000,
    ...(options.input === undefined ? {stdin: 'ignore' as const} : {input: options.input}),
  })
  return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr)}
}

/** The JSON document a --json run printed on stdout. */
export function json(run: Run): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>
  } catch {
    throw new Error(`stdout is not JSON (exit ${run.exitCode}):\n${run.stdout}\nstderr:\n${run.stderr}`)
  }
}
