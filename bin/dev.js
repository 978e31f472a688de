#!/usr/bin/env -S node --import tsx --no-warnings
// Runs the command-line program from the TypeScript sources, without a build. Run it as
// `./bin/dev.js` or `node --import tsx bin/dev.js` (plain `node bin/dev.js` skips the shebang
// and so the TypeScript loader).
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {execute, Plugin} from '@oclif/core'

// oclif maps ./dist/commands to ./src/commands only after registering a TypeScript loader of
// its own, which fails with this tsx version (its CommonJS register() resolves a wrong path);
// tsx is already loaded here, so point oclif at the sources directly.
const root = fileURLToPath(new URL('..', import.meta.url))
const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
pjson.oclif.commands = './src/commands'

// The build's oclif.manifest.json describes dist/, as it was at the last build: here the
// commands are found in the sources instead (ignoreManifest), so a command added, changed or
// removed since is seen as it is now. oclif only takes this option on a plugin it is given,
// so this program's plugin and its core plugins (pjson.oclif.plugins) are loaded here.
const self = new Plugin({root, pjson, isRoot: true, ignoreManifest: true})
const core = (pjson.oclif.plugins ?? []).map((name) => new Plugin({name, root, type: 'core'}))
await Promise.all([self, ...core].map((plugin) => plugin.load()))
const plugins = new Map([self, ...core].map((plugin) => [plugin.name, plugin]))
await execute({development: true, dir: import.meta.url, loadOptions: {root, pjson, plugins}})
