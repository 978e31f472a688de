// oclif finds the installed program's commands in oclif.manifest.json (written by `npm run
// build`) instead of loading every command module at start-up. A manifest that no longer
// matches the commands would hide a new command, keep a removed one, or show stale flags in
// --help: these tests compare it with the command classes in src/commands, and check that
// bin/dev.js, which runs the sources, does not read a stale one.
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile, copyFile} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {dirname, join, relative, sep} from 'node:path'
import {pathToFileURL} from 'node:url'
import {promisify} from 'node:util'
import type {Command} from '@oclif/core'
import {afterAll, describe, expect, it} from 'vitest'
import {root} from '../commands/helpers.js'

const run = promisify(execFile)

interface ManifestCommand {
  id: string
  relativePath: string[]
  [field: string]: unknown
}

interface Manifest {
  version: string
  commands: Record<string, ManifestCommand>
}

// oclif's own function that turns a command class into its manifest entry; it is not among
// the package's exports, so it is loaded by path from the installed package.
type CacheCommand = (command: Command.Class, plugin?: unknown, respectNoCacheDefault?: boolean) => Promise<Record<string, unknown>>
const oclifRoot = dirname(createRequire(import.meta.url).resolve('@oclif/core/package.json'))
const {cacheCommand} = createRequire(import.meta.url)(join(oclifRoot, 'lib', 'util', 'cache-command.js')) as {cacheCommand: CacheCommand}

async function commandFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, {withFileTypes: true})
  const nested = await Promise.all(entries.map(async (entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return commandFiles(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  }))
  return nested.flat()
}

/** A command's id from its file, as oclif derives it: src/commands/cluster/up.ts is cluster:up. */
function idOf(file: string): string {
  return relative(join(root, 'src', 'commands'), file).replace(/\.ts$/, '').split(sep).join(':')
}

async function readManifest(): Promise<Manifest> {
  const path = join(root, 'oclif.manifest.json')
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build (npm install runs it too)`)
  return JSON.parse(await readFile(path, 'utf8')) as Manifest
}

/** The fields of a manifest entry that describe the command, as JSON would carry them. */
function described(entry: Record<string, unknown>): Record<string, unknown> {
  const {pluginAlias: _alias, pluginName: _name, pluginType: _type, isESM: _esm, relativePath: _path, ...rest} = JSON.parse(JSON.stringify(entry)) as Record<string, unknown>
  return rest
}

const stale = 'the manifest does not match the commands in src/commands: run npm run build'

describe('oclif.manifest.json', () => {
  it('lists exactly the commands in src/commands, for this version', async () => {
    const manifest = await readManifest()
    const pjson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {version: string}
    const ids = (await commandFiles(join(root, 'src', 'commands'))).map(idOf)
    expect(Object.keys(manifest.commands).sort(), stale).toEqual(ids.sort())
    expect(manifest.version).toBe(pjson.version)
  })

  it('describes each command as its class does now: flags, args, descriptions, examples', async () => {
    const manifest = await readManifest()
    for (const file of await commandFiles(join(root, 'src', 'commands'))) {
      const id = idOf(file)
      const module = (await import(pathToFileURL(file).href)) as {default: Command.Class}
      const expected = described({...(await cacheCommand(module.default)), id})
      const entry = manifest.commands[id]
      expect(entry, `${id}: ${stale}`).toBeDefined()
      expect(described(entry ?? {}), `${id}: ${stale}`).toEqual(expected)
      // The module the installed program loads for it is the build of this very file.
      expect(entry?.relativePath.join('/')).toBe(`dist/commands/${id.split(':').join('/')}.js`)
    }
  })

  it('ships with the package', async () => {
    const pjson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {files: string[]; scripts: Record<string, string>}
    expect(pjson.files).toContain('oclif.manifest.json')
    expect(pjson.scripts['build']).toContain('oclif manifest')
  })
})

describe('bin/dev.js', () => {
  const dirs: string[] = []
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, {recursive: true, force: true})))
  })

  it('finds the commands in the sources, not in a stale manifest', async () => {
    // A copy of the program with one command, "hello", and a manifest that knows only a
    // command "gone" that no longer exists.
    const dir = await mkdtemp(join(tmpdir(), 'dyn-dev-manifest-'))
    dirs.push(dir)
    await mkdir(join(dir, 'bin'))
    await mkdir(join(dir, 'src', 'commands'), {recursive: true})
    await copyFile(join(root, 'bin', 'dev.js'), join(dir, 'bin', 'dev.js'))
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
    const pjson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {oclif: Record<string, unknown>}
    await writeFile(join(dir, 'package.json'), JSON.stringify({name: 'dyn', version: '0.1.0', type: 'module', oclif: pjson.oclif}))
    await writeFile(
      join(dir, 'src', 'commands', 'hello.ts'),
      "import {Command} from '@oclif/core'\nexport default class Hello extends Command {\n  async run(): Promise<void> {\n    this.log('hello from the sources')\n  }\n}\n",
    )
    const gone = {id: 'gone', aliases: [], args: {}, flags: {}, hiddenAliases: [], isESM: true, relativePath: ['dist', 'commands', 'gone.js'], pluginName: 'dyn', pluginType: 'core', pluginAlias: 'dyn'}
    await writeFile(join(dir, 'oclif.manifest.json'), JSON.stringify({commands: {gone}, version: '0.1.0'}))

    const dev = (args: string[]) => run(process.execPath, ['--import', 'tsx', join(dir, 'bin', 'dev.js'), ...args], {cwd: dir}).then(
      ({stdout}) => ({code: 0, stdout}),
      (error: {code: number; stdout: string; stderr: string}) => ({code: error.code, stdout: error.stdout + error.stderr}),
    )
    expect(await dev(['hello'])).toEqual({code: 0, stdout: 'hello from the sources\n'})
    const missing = await dev(['gone'])
    expect(missing.code).not.toBe(0)
    expect(missing.stdout).toContain('command gone not found')
    // The core plugins still load: the help command comes from @oclif/plugin-help.
    expect((await dev(['help'])).stdout).toContain('hello')
  })
})
