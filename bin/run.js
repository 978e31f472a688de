#!/usr/bin/env node
// The installed entry point. Loading oclif costs several times what Node's own start does,
// so the two commands people run most often in loops start without it:
//   - `dyn --version` prints what oclif prints (its config.userAgent);
//   - a plain `dyn get KEY [flags]` runs through dist/cli/fast-get.js, which gives the
//     command's own output and exit codes and hands anything it is unsure of back to oclif.
// Everything else goes through oclif, which finds the command in oclif.manifest.json
// (written by the build) and loads only that command's module.
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

/** Runs a plain get without oclif; false when the arguments are oclif's to read. */
async function fastGet() {
  const {parseGet, runGet} = await import('../dist/cli/fast-get.js')
  const jsonMayBeColoured = process.stdout.isTTY === true || process.env.FORCE_COLOR !== undefined
  const request = parseGet(argv.slice(1), {env: process.env, jsonMayBeColoured})
  if (request === undefined) return false
  // msgpackr's native string decoder is worth its load time (detecting the C library, then
  // loading an addon: tens of ms) in a node, not in one get's few small replies; the pure
  // JavaScript decoder reads the same bytes to the same values.
  process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED ??= 'true'
  const [{DynClient}, {resolveTarget}] = await Promise.all([import('../dist/client/index.js'), import('../dist/cluster/target.js')])
  process.exitCode = await runGet(request, {resolveTarget, open: (target) => new DynClient(target)}, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdoutColor: process.stdout.isTTY === true,
    stderrColor: process.stderr.isTTY === true,
  })
  return true
}

// Only the bare `dyn --version`: oclif also runs init hooks first (this program has none)
// and honours `additionalVersionFlags` (not set); test/cli/start.test.ts checks both and
// compares the answer with oclif's. Anything more goes the long way.
if (argv.length === 1 && argv[0] === '--version' && !mayBeWsl()) {
  process.stdout.write(`${userAgent()}\n`)
} else if (!(argv[0] === 'get' && (await fastGet()))) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
