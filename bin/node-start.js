// The wiring of the fast `dyn node start --config FILE` (bin/run.js) to the daemon. The
// build bundles this file with everything it imports into dist/node-start.js: one file
// instead of the hundred-odd modules of the daemon, each of which Node would otherwise
// find, read and compile on every node start. msgpackr's native addon is left out of the
// bundle and loaded from node_modules when present.
import {describeOtherError, errorText} from '../dist/cli/error-report.js'
import {closeOnSignal, loadConfig, startDaemon} from '../dist/daemon/index.js'

/** What src/commands/node/start.ts does without flags beyond --config, reporting errors as
 * its base command does (text mode). */
export async function fastNodeStart(configPath) {
  try {
    const daemon = await startDaemon(await loadConfig({configPath, overrides: {}}), {logFormat: 'text'})
    await closeOnSignal(daemon)
  } catch (error) {
    const report = describeOtherError(error)
    process.stderr.write(errorText(report))
    process.exitCode = report.exitCode
  }
}
