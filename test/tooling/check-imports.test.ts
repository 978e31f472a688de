// scripts/check-imports.mjs fails the build on import cycles and on imports that go up the
// layering of DESIGN §2. Run it on small trees built here to see that it does.
import {execFile} from 'node:child_process'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {promisify} from 'node:util'
import {afterEach, describe, expect, it} from 'vitest'

const run = promisify(execFile)
const roots: string[] = []

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dyn-imports-'))
  roots.push(root)
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), {recursive: true})
    await writeFile(join(root, path), text)
  }
  return root
}

async function check(root: string): Promise<{code: number; output: string}> {
  try {
    const {stdout, stderr} = await run(process.execPath, ['scripts/check-imports.mjs', root])
    return {code: 0, output: stdout + stderr}
  } catch (error) {
    const failed = error as {code: number; stdout: string; stderr: string}
    return {code: failed.code, output: failed.stdout + failed.stderr}
  }
}

afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, {recursive: true, force: true})))
})

describe('check-imports', () => {
  it('accepts a tree that respects the layering', async () => {
    const root = await tree({
      'src/core/a.ts': 'export const a = 1\n',
      'src/store/b.ts': "import {a} from '../core/a.js'\nexport const b = a\n",
    })
    expect(await check(root)).toMatchObject({code: 0})
  })

  it('rejects an import cycle', async () => {
    const root = await tree({
      'src/core/a.ts': "import {b} from './b.js'\nexport const a = b\n",
      'src/core/b.ts': "import {a} from './a.js'\nexport const b = a\n",
    })
    const result = await check(root)
    expect(result.code).toBe(1)
    expect(result.output).toMatch(/import cycle/)
  })

  it('rejects an upward import', async () => {
    const root = await tree({
      'src/store/b.ts': 'export const b = 1\n',
      'src/core/a.ts': "import {b} from '../store/b.js'\nexport const a = b\n",
    })
    const result = await check(root)
    expect(result.code).toBe(1)
    expect(result.output).toMatch(/src\/core may not import src\/store/)
  })

  it('rejects a folder that has no place in the layering', async () => {
    const root = await tree({'src/misc/x.ts': "import {a} from '../core/a.js'\nexport const x = a\n", 'src/core/a.ts': 'export const a = 1\n'})
    const result = await check(root)
    expect(result.code).toBe(1)
    expect(result.output).toMatch(/no place in the layering/)
  })
})
