import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {isBlankOrComment, joinWords, splitWords, UnbalancedQuoteError} from '../../src/shell/words.js'

describe('splitWords', () => {
  it('splits on blanks and keeps quoted text whole', () => {
    expect(splitWords('put cart apple')).toEqual(['put', 'cart', 'apple'])
    expect(splitWords("  put   'my key'  \"a b\"\t--w 3 ")).toEqual(['put', 'my key', 'a b', '--w', '3'])
    expect(splitWords(`put k 'it'\\''s'`)).toEqual(['put', 'k', "it's"])
    expect(splitWords('put k "say \\"hi\\" \\\\ \\n"')).toEqual(['put', 'k', 'say "hi" \\ \\n'])
    expect(splitWords('put k a\\ b')).toEqual(['put', 'k', 'a b'])
    expect(splitWords("put k ''")).toEqual(['put', 'k', ''])
    expect(splitWords('put k pre"mid"post')).toEqual(['put', 'k', 'premidpost'])
  })

  it('refuses a quote left open, naming it', () => {
    expect(() => splitWords("put k 'open")).toThrow(UnbalancedQuoteError)
    expect(() => splitWords('put k "open')).toThrow(/double-quoted/)
  })

  it('reads back any words joinWords wrote', () => {
    fc.assert(
      fc.property(fc.array(fc.string({unit: 'grapheme', maxLength: 12}), {maxLength: 6}), (words) => {
        expect(splitWords(joinWords(words))).toEqual(words)
      }),
      {numRuns: 500},
    )
  })

  it('treats blank lines and # comments as nothing to run', () => {
    expect(isBlankOrComment('   ')).toBe(true)
    expect(isBlankOrComment('  # note')).toBe(true)
    expect(isBlankOrComment('get k # not a comment here')).toBe(false)
  })
})
