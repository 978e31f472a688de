// Who a client says it is in the hello (docs/protocol.md): the cluster name, the client
// role, a label for the nodes' logs and, when the cluster has one, the cluster secret
// (DESIGN §11). The secret is read from the file named by DYN_SECRET_FILE, so every
// command (reads, writes, membership, Merkle comparisons, the shell) presents it without a
// flag of its own, and it never appears on a command line or in `ps`.
import {readFileSync} from 'node:fs'
import {Buffer} from 'node:buffer'
import {DynError, exitCodes} from '../core/errors.js'
import type {Identity} from '../net/index.js'

/** Largest secret file read: a node accepts secrets of at most 1024 characters. */
export const secretFileBytesMax = 4096

export const secretFileVariable = 'DYN_SECRET_FILE'

export class SecretFileError extends DynError {
  constructor(path: string, problem: string) {
    super(`the cluster secret file ${path} (${secretFileVariable}) ${problem}`, {
      code: 'SECRET_FILE',
      exitCode: exitCodes.usage,
      suggestion: `point ${secretFileVariable} at the file holding the secret the nodes were given (the file \`dyn init --secret-file\` read), or unset it`,
    })
  }
}

/** The secret in a file: its text without the trailing newline editors and
 * `openssl rand -base64` end it with, as `dyn init --secret-file` reads it. */
export function readSecretFile(path: string): Uint8Array {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (error) {
    throw new SecretFileError(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  if (bytes.length > secretFileBytesMax) throw new SecretFileError(path, `is ${bytes.length} bytes; it must hold only the secret`)
  const secret = bytes.toString('utf8').replace(/\r?\n$/u, '')
  if (secret === '') throw new SecretFileError(path, 'is empty')
  return Buffer.from(secret, 'utf8')
}

/** The secret DYN_SECRET_FILE names, or undefined when it is not set. */
export function secretFromEnvironment(env: NodeJS.ProcessEnv = process.env): Uint8Array | undefined {
  const path = env[secretFileVariable]
  return path === undefined || path === '' ? undefined : readSecretFile(path)
}

/** A client's identity; `secret` undefined means the one DYN_SECRET_FILE names, if any. */
export function clientIdentity(options: {cluster: string; name: string; secret?: Uint8Array | undefined}): Identity {
  const secret = options.secret ?? secretFromEnvironment()
  return {cluster: options.cluster, role: 'client', name: options.name, ...(secret === undefined ? {} : {secret})}
}
