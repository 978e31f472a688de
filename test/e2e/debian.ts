// Installs a Debian package a real-process test needs (iproute2, tmux, systemd) when its
// program is missing, as on a fresh CI machine. A machine without package lists gets them
// first; a failure says what was tried rather than letting the test skip.
import {execa} from 'execa'

/** Makes sure `program` runs (`program versionFlag` exits 0), installing `pkg` if not. */
export async function ensureProgram(program: string, versionFlag: string, pkg: string): Promise<void> {
  if ((await execa(program, [versionFlag], {reject: false})).exitCode === 0) return
  const install = async () => {
    const result = await execa('apt-get', ['install', '-y', '--no-install-recommends', pkg], {reject: false})
    return {exitCode: result.exitCode, stderr: String(result.stderr)}
  }
  let installed = await install()
  if (installed.exitCode !== 0) {
    await execa('apt-get', ['update'], {reject: false})
    installed = await install()
  }
  const found = await execa(program, [versionFlag], {reject: false})
  if (found.exitCode !== 0) {
    throw new Error(`${program} is missing and \`apt-get install -y ${pkg}\` did not provide it (exit ${String(installed.exitCode)}): ${installed.stderr}`)
  }
}
