// The linter keeps src/core and src/node pure (DESIGN §1). These tests make sure the rule
// really fires, so a config change cannot silently switch it off.
import {ESLint} from 'eslint'
import {describe, expect, it} from 'vitest'

const eslint = new ESLint({cwd: process.cwd()})

async function ruleIdsFor(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, {filePath})
  return (result?.messages ?? []).map((message) => message.ruleId ?? message.message)
}

describe('purity rule for src/core and src/node', () => {
  const impure: Array<[string, string]> = [
    ['a file-system import', "import {readFileSync} from 'node:fs'\nexport const f = readFileSync"],
    ['a bare builtin import', "import net from 'net'\nexport const n = net"],
    ['a timer', 'export function later(): void {\n  setTimeout(() => undefined, 1)\n}'],
    ['the wall clock', 'export const now = (): number => Date.now()'],
    ['new Date', 'export const now = (): Date => new Date()'],
    ['Math.random', 'export const coin = (): number => Math.random()'],
    ['crypto randomness', "import {randomBytes} from 'node:crypto'\nexport const r = randomBytes"],
    ['crypto randomInt', "import {randomInt} from 'crypto'\nexport const r = randomInt"],
  ]
  for (const folder of ['src/core', 'src/node']) {
    for (const [what, code] of impure) {
      it(`rejects ${what} in ${folder}`, async () => {
        const rules = await ruleIdsFor(code, `${folder}/probe.ts`)
        expect(rules.some((rule) => rule.startsWith('no-restricted'))).toBe(true)
      })
    }
  }

  it('allows hashing from node:crypto and node:buffer in src/core', async () => {
    const code =
      "import {createHash} from 'node:crypto'\nimport {Buffer} from 'node:buffer'\n" +
      "export const md5 = (b: Buffer): Buffer => createHash('md5').update(Buffer.from(b)).digest()"
    expect(await ruleIdsFor(code, 'src/core/probe.ts')).toEqual([])
  })

  it("allows the injected generator's randomInt in src/core", async () => {
    const code = "import {randomInt, type Random} from './random.js'\nexport const pick = (random: Random): number => randomInt(random, 10)"
    expect(await ruleIdsFor(code, 'src/core/probe.ts')).toEqual([])
  })

  it('allows timers and files outside the pure folders', async () => {
    const code = "import {readFileSync} from 'node:fs'\nexport const f = readFileSync\nexport const t = Date.now()"
    expect(await ruleIdsFor(code, 'src/store/probe.ts')).toEqual([])
  })
})
