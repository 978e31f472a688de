// What a command costs before it does anything: bin/run.js answers `--version` without
// oclif, and the commands people run most load none of the heavy modules they do not use
// (execa spawns clusters, inquirer asks questions, node-fetch probes HTTP, cli-table3 draws
// tables). Each of those takes tens of milliseconds to load on a small machine.
import {execFile} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {root} from '../commands/helpers.js'

const run = promisify(execFile)

describe('dyn --version', () => {
  it('prints what oclif prints', async () => {
    const fast = await run(process.execPath, [join(root, 'bin', 'run.js'), '--version'])
    const oclif = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `const {execute} = await import('@oclif/core'); await execute({dir: ${JSON.stringify(join(root, 'bin', 'run.js'))}, args: ['--version']})`,
    ], {cwd: root})
    expect(fast.stdout).toMatch(/^dyn\/\d+\.\d+\.\d+\S* \S+-\S+ node-v\d+/)
    expect(fast.stdout).toBe(oclif.stdout)
  })

  it('rests on what oclif would do first: no init hooks, no other version flags', async () => {
    // bin/run.js answers before oclif could run an init hook or see another version flag.
    const pjson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {oclif: Record<string, unknown>}
    expect(pjson.oclif['hooks']).toBeUndefined()
    expect(pjson.oclif['additionalVersionFlags']).toBeUndefined()
  })

  it('leaves anything more than the bare flag to oclif', async () => {
    const help = await run(process.execPath, [join(root, 'bin', 'run.js'), '--version', '--help'])
    expect(help.stdout).toBe((await run(process.execPath, [join(root, 'bin', 'run.js'), '--version'])).stdout)
  })
})

describe('what a command module loads', () => {
  let dir: string
  let register: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dyn-start-'))
    // A module hook that writes down every module resolved; hooks run on a thread of their
    // own, so it appends to a file rather than printing.
    await writeFile(join(dir, 'hook.mjs'), [
      "import {appendFileSync} from 'node:fs'",
      'export async function resolve(specifier, context, next) {',
      '  const resolved = await next(specifier, context)',
      "  appendFileSync(process.env.DYN_TEST_LOADED, resolved.url + '\\n')",
      '  return resolved',
      '}',
      '',
    ].join('\n'))
    register = join(dir, 'register.mjs')
    await writeFile(register, `import {register} from 'node:module'\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)})\n`)
  })

  afterAll(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  /** The packages in node_modules that importing the command's module loads. */
  async function packagesLoadedBy(command: string): Promise<string[]> {
    const list = join(dir, `${command.replaceAll('/', '-')}.txt`)
    await writeFile(list, '')
    const module = pathToFileURL(join(root, 'src', 'commands', `${command}.ts`)).href
    await run(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(register).href, '--input-type=module', '-e', `await import(${JSON.stringify(module)})`], {
      cwd: root,
      env: {...process.env, DYN_TEST_LOADED: list},
    })
    const urls = (await readFile(list, 'utf8')).split('\n').filter((url) => url !== '')
    const names = urls.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? [])
    return [...new Set(names)].sort()
  }

  const heavy = ['execa', '@inquirer/prompts', '@inquirer/core', 'node-fetch', 'cli-table3']

  it.each(['get', 'put', 'delete', 'resolve'])('%s loads no execa, inquirer, node-fetch or cli-table3', async (command) => {
    const loaded = await packagesLoadedBy(command)
    expect(loaded).toContain('@oclif/core')
    expect(loaded.filter((name) => heavy.includes(name))).toEqual([])
  })
})
