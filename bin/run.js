#!/usr/bin/env node
// The installed entry point. Loading oclif costs several times what Node's own start does,
// so the two commands people run most often in loops start without it:
//   - `dyn --version` prints what oclif prints (its config.userAgent);
//   - a plain `dyn get KEY [flags]` runs through src/cli/fast-get.ts (bundled into
//     dist/fast-get.js), which gives the command's own output and exit codes and hands
//     anything it is unsure of back to oclif.
//   - `dyn node start --config FILE`, exactly as `dyn cluster up/start` run it, starts the
//     daemon straight from dist/daemon: a node's start-up is part of how long a restarted
//     node is away, and oclif would add about a quarter of a second to it.
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

/** Runs a plain get without oclif (bin/fast-get.js, bundled by the build); false when the
 * arguments are oclif's to read. */
async function fastGet() {
  // msgpackr's native string decoder is worth its load time (detecting the C library, then
  // loading an addon: tens of ms) in a node, not in one get's few small replies; the pure
  // JavaScript decoder reads the same bytes to the same values. It is read when msgpackr
  // loads, so it is set before the bundle is imported.
  process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED ??= 'true'
  const {fastGet: run} = await import('../dist/fast-get.js')
  return run(argv.slice(1))
}

/** The config path of a plain `node start --config FILE` (or `-c FILE`, `--config=FILE`);
 * undefined for anything else, which oclif reads. */
function nodeStartConfig() {
  if (argv[0] !== 'node' || argv[1] !== 'start') return undefined
  const rest = argv.slice(2)
  if (rest.length === 1 && rest[0].startsWith('--config=') && rest[0].length > '--config='.length) return rest[0].slice('--config='.length)
  if (rest.length === 2 && (rest[0] === '--config' || rest[0] === '-c') && !rest[1].startsWith('-')) return rest[1]
  return undefined
}

/** What src/commands/node/start.ts does without flags beyond --config, reporting errors as
 * its base command does (text mode). */
async function fastNodeStart(configPath) {
  const [{closeOnSignal, loadConfig, startDaemon}, {describeOtherError, errorText}] = await Promise.all([
    import('../dist/daemon/index.js'),
    import('../dist/cli/error-report.js'),
  ])
  try {
    const daemon = await startDaemon(await loadConfig({configPath, overrides: {}}), {logFormat: 'text'})
    await closeOnSignal(daemon)
  } catch (error) {
    const report = describeOtherError(error)
    process.stderr.write(errorText(report))
    process.exitCode = report.exitCode
  }
}

const nodeStartConfigPath = nodeStartConfig()

// Only the bare `dyn --version`: oclif also runs init hooks first (this program has none)
// and honours `additionalVersionFlags` (not set); test/cli/start.test.ts checks both and
// compares the answer with oclif's. Anything more goes the long way.
if (argv.length === 1 && argv[0] === '--version' && !mayBeWsl()) {
  process.stdout.write(`${userAgent()}\n`)
} else if (nodeStartConfigPath !== undefined) {
  await fastNodeStart(nodeStartConfigPath)
} else if (!(argv[0] === 'get' && (await fastGet()))) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
