// How `dyn cluster up` runs `dyn node start` for each node: the same Node binary
// (process.execPath) with this program's own entry script, found relative to this module
// rather than from process.argv, so it also works when the cluster is started from a test
// runner or another program that imports this module:
//   - running from the build (this file is dist/cluster/program.js): node ROOT/bin/run.js
//   - running from the sources (src/cluster/program.ts, loaded by tsx):
//       node --import ABS/tsx/dist/loader.mjs ROOT/bin/dev.js
//     with tsx's loader given by absolute path, so the child finds it whatever its cwd.
// The environment variable DYN_PROGRAM overrides both: a path to an executable `dyn`.
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

export interface ProgramCommand {
  readonly file: string
  readonly args: readonly string[]
}

/** The package root: this module sits in ROOT/src/cluster or ROOT/dist/cluster. */
export function packageRoot(): string {
  return dirname(dirname(dirname(fileURLToPath(import.meta.url))))
}

export function programCommand(env: NodeJS.ProcessEnv = process.env): ProgramCommand {
  const override = env['DYN_PROGRAM']
  if (override !== undefined && override !== '') return {file: override, args: []}
  const root = packageRoot()
  if (!fileURLToPath(import.meta.url).endsWith('.ts')) return {file: process.execPath, args: [join(root, 'bin', 'run.js')]}
  const tsxLoader = createRequire(import.meta.url).resolve('tsx')
  return {file: process.execPath, args: ['--no-warnings', '--import', pathToFileURL(tsxLoader).href, join(root, 'bin', 'dev.js')]}
}
