// The peers come from Debian: when a peer's server binary is missing and this process is
// root, `apt-get install` brings it; otherwise the peer is skipped with the reason, and the
// run goes on without its rows. Debian's maintainer scripts may try to start the packages'
// system services; those are never used here (each run starts its own servers).
import {execFile} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {delimiter, join} from 'node:path'

/** How long apt-get may take for one step (update, or installing a few packages) before the
 * peer is skipped: a mirror that has not answered in five minutes will not answer. */
const aptTimeoutMs = 5 * 60_000

/** Characters of apt-get's error output quoted in a skip reason. */
const aptErrorChars = 400

/** Output apt-get may print before it is cut off: its progress of a large install is a
 * few hundred KiB, so this only bounds a runaway. */
const aptOutputBytesMax = 16 * 1024 * 1024

export type Availability = {readonly ok: true; readonly path: string} | {readonly ok: false; readonly reason: string}

export interface DebianPeer {
  /** The binary the benchmark runs, looked up on PATH. */
  readonly binary: string
  /** Debian packages that bring it (and its companions, such as etcdctl). */
  readonly packages: readonly string[]
}

/** The absolute path of `binary` on PATH, or undefined. */
export function which(binary: string, path: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, binary)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this folder
    }
  }
  return undefined
}

/** Runs apt-get update once per process however many peers need installing. */
let aptUpdated: Promise<void> | undefined

/** Finds the peer's binary, installing its packages when missing and allowed. */
export async function ensurePeer(peer: DebianPeer, options: {install: boolean; log: (line: string) => void}): Promise<Availability> {
  const found = which(peer.binary)
  if (found !== undefined) return {ok: true, path: found}
  const packages = peer.packages.join(' ')
  if (!options.install) return {ok: false, reason: `${peer.binary} is not installed and --no-install was given (Debian: apt-get install ${packages})`}
  if (process.getuid?.() !== 0) return {ok: false, reason: `${peer.binary} is not installed and installing ${packages} needs root`}
  options.log(`${peer.binary} not found: installing Debian packages ${packages}`)
  try {
    aptUpdated ??= apt(['update'])
    await aptUpdated
    await apt(['install', '-y', '--no-install-recommends', ...peer.packages])
  } catch (error) {
    return {ok: false, reason: `installing ${packages} failed: ${error instanceof Error ? error.message : String(error)}`}
  }
  const installed = which(peer.binary)
  if (installed === undefined) return {ok: false, reason: `${packages} installed but ${peer.binary} is still not on PATH`}
  return {ok: true, path: installed}
}

function apt(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'apt-get',
      args,
      {timeout: aptTimeoutMs, env: {...process.env, DEBIAN_FRONTEND: 'noninteractive'}, maxBuffer: aptOutputBytesMax},
      (error, _stdout, stderr) => {
        if (error === null) return resolve()
        // apt-get explains itself on stderr; a timeout or a missing apt-get leaves it empty.
        const said = stderr.trim() === '' ? error.message : stderr.trim()
        reject(new Error(`apt-get ${args[0] ?? ''}: ${said.slice(-aptErrorChars)}`))
      },
    )
  })
}
