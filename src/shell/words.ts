// Splitting a shell line into words the way a POSIX shell splits a simple command: blanks
// separate words, single quotes keep everything literally, double quotes keep everything
// but `\"` and `\\`, and a backslash outside quotes escapes the next character. No
// variables, globs or pipes: a line is one verb and its arguments, so a value with spaces
// or quotes can be written exactly as it would be after `dyn` in a terminal.
import {DynError, exitCodes} from '../core/errors.js'

export class UnbalancedQuoteError extends DynError {
  constructor(quote: string) {
    super(`the line ends inside a ${quote === "'" ? 'single' : 'double'}-quoted word`, {
      code: 'USAGE',
      exitCode: exitCodes.usage,
      suggestion: `close the quote (${quote}) before the end of the line`,
    })
  }
}

type Mode = 'plain' | 'single' | 'double'

/** The words of `line`; throws UnbalancedQuoteError when a quote is left open. */
export function splitWords(line: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let mode: Mode = 'plain'
  for (let index = 0; index < line.length; index++) {
    const char = line[index]!
    if (mode === 'single') {
      if (char === "'") mode = 'plain'
      else word += char
      continue
    }
    if (mode === 'double') {
      if (char === '"') mode = 'plain'
      else if (char === '\\' && (line[index + 1] === '"' || line[index + 1] === '\\')) word += line[++index]
      else word += char
      continue
    }
    if (char === ' ' || char === '\t') {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      continue
    }
    inWord = true
    if (char === "'") mode = 'single'
    else if (char === '"') mode = 'double'
    else if (char === '\\' && index + 1 < line.length) word += line[++index]
    else word += char
  }
  if (mode !== 'plain') throw new UnbalancedQuoteError(mode === 'single' ? "'" : '"')
  if (inWord) words.push(word)
  return words
}

const plainWord = /^[A-Za-z0-9_@%+=:,./-]+$/u

/** A word written so that splitWords reads it back unchanged. */
export function quoteWord(word: string): string {
  if (plainWord.test(word)) return word
  return `'${word.replaceAll("'", `'\\''`)}'`
}

/** A line that splits back into `words`. */
export function joinWords(words: readonly string[]): string {
  return words.map(quoteWord).join(' ')
}

/** Whether the line is only blanks or a comment (`# ...`): nothing to run. */
export function isBlankOrComment(line: string): boolean {
  const trimmed = line.trim()
  return trimmed === '' || trimmed.startsWith('#')
}
