// The wiring of the fast `dyn get` (src/cli/fast-get.ts) to the client and the cluster
// directory. The build bundles this file with everything it imports into dist/fast-get.js,
// which bin/run.js loads: one file instead of some fifty modules, each of which Node would
// otherwise find, read and compile on every get. cli-table3 and msgpackr's native addon are
// left out of the bundle and loaded from node_modules when used.
import {parseGet, runGet} from '../dist/cli/fast-get.js'
import {DynClient} from '../dist/client/index.js'
import {resolveTarget} from '../dist/cluster/target.js'

/** Runs `dyn get ARGV` without oclif; false when the arguments are oclif's to read. */
export async function fastGet(argv) {
  const jsonMayBeColoured = process.stdout.isTTY === true || process.env.FORCE_COLOR !== undefined
  const request = parseGet(argv, {env: process.env, jsonMayBeColoured})
  if (request === undefined) return false
  process.exitCode = await runGet(request, {resolveTarget, open: (target) => new DynClient(target)}, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdoutColor: process.stdout.isTTY === true,
    stderrColor: process.stderr.isTTY === true,
  })
  return true
}
