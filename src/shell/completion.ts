// Tab completion for the shell (the `completer` of node:readline): verbs first, then what
// the verb takes next: recent keys where a key goes, flags after a dash, node names after
// `use`. Pure: it gets a snapshot of what the session knows.
import {builtinVerbs, commandVerbs, findCommandVerb} from './verbs.js'

export interface CompletionSources {
  /** Flags of a command verb's command, without dashes. */
  flagsOf(command: string): readonly string[]
  /** Recently used keys, newest first. */
  readonly recentKeys: readonly string[]
  readonly nodeNames: readonly string[]
}

/** Flags the shell adds to the command's own. */
const shellFlags: Readonly<Record<string, readonly string[]>> = {put: ['blind'], delete: ['blind']}

/** [candidates, the fragment they complete], as readline's completer returns them. */
export function complete(line: string, sources: CompletionSources): [string[], string] {
  const words = line.split(/[ \t]+/u)
  const fragment = words.pop() ?? ''
  const done = words.filter((word) => word !== '')
  const candidates = done.length === 0 ? allVerbs() : nextWords(done, fragment, sources)
  const matches = [...new Set(candidates.filter((candidate) => candidate.startsWith(fragment)))]
  return [matches, fragment]
}

function allVerbs(): string[] {
  return [...commandVerbs.map((verb) => verb.name), ...builtinVerbs.map((verb) => verb.name)]
}

function nextWords(done: readonly string[], fragment: string, sources: CompletionSources): string[] {
  const [verb] = done
  const previous = done.at(-1)
  const command = findCommandVerb(verb ?? '')
  if (fragment.startsWith('-') && command !== undefined) {
    return [...sources.flagsOf(command.command), ...(shellFlags[command.name] ?? [])].map((flag) => `--${flag}`)
  }
  if (previous === '--key') return [...sources.recentKeys]
  if (previous === '--node') return [...sources.nodeNames]
  switch (verb) {
    case 'use':
      return done.length === 1 ? [...sources.nodeNames, 'all'] : []
    case 'set':
    case 'unset':
      return done.length === 1 ? ['r', 'w'] : []
    case 'help':
      return done.length === 1 ? allVerbs() : []
    case 'forget':
    case 'contexts':
      return done.length === 1 ? [...sources.recentKeys, ...(verb === 'forget' ? ['--all'] : [])] : []
    case 'merkle':
      return done.length === 1 ? ['diff'] : [...sources.nodeNames]
    default:
      return command?.takesKey === true && done.length === 1 ? [...sources.recentKeys] : []
  }
}
