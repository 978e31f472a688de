#!/usr/bin/env node
// The installed entry point. `dyn --version` is answered here without loading oclif, whose
// start-up costs several times what Node's own does; it prints exactly what oclif prints
// (its config.userAgent). Everything else, and any case the fast answer cannot be sure of,
// goes through oclif, which finds the command in oclif.manifest.json (written by the build)
// and loads only that command's module.
import {existsSync, readFileSync} from 'node:fs'
import {arch, platform, release} from 'node:os'

const argv = process.argv.slice(2)

/** oclif reports WSL as the platform `wsl` (with exceptions inside containers); whenever
 * WSL is possible, leave the answer to oclif rather than guess. */
function mayBeWsl() {
  if (platform() !== 'linux') return false
  if (release().toLowerCase().includes('microsoft')) return true
  if (existsSync('/proc/sys/fs/binfmt_misc/WSLInterop') || existsSync('/run/WSL')) return true
  try {
    return readFileSync('/proc/version', 'utf8').toLowerCase().includes('microsoft')
  } catch {
    return true
  }
}

/** oclif's user agent: NAME/VERSION PLATFORM-ARCH node-VERSION. */
function userAgent() {
  const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  const cpu = arch() === 'ia32' ? 'x86' : arch()
  return `${pjson.name}/${pjson.version} ${platform()}-${cpu} node-${process.version}`
}

// Only the bare `dyn --version`: oclif also runs init hooks first (this program has none)
// and honours `additionalVersionFlags` (not set); test/cli/start.test.ts checks both and
// compares the answer with oclif's. Anything more goes the long way.
if (argv.length === 1 && argv[0] === '--version' && !mayBeWsl()) {
  process.stdout.write(`${userAgent()}\n`)
} else {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
