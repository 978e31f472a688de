// The verbs of `dyn shell`: the commands it runs (the very same commands, so their output
// is identical) and the shell's own words (use, set, contexts...).

export interface CommandVerb {
  readonly name: string
  /** The command it runs (oclif id, topics joined by ':'). */
  readonly command: string
  readonly usage: string
  readonly summary: string
  /** The first argument is a key: contexts are remembered for it and it is completed from recent keys. */
  readonly takesKey: boolean
  /** Writes with the remembered context of its key unless given --context or --blind. */
  readonly usesContext: boolean
  /** Goes through the node chosen with `use`; a cluster-wide listing does not. */
  readonly followsUse: boolean
  /** The word after the verb that names the command (`merkle diff`). */
  readonly subcommand?: string
}

export const commandVerbs: readonly CommandVerb[] = [
  {name: 'get', command: 'get', usage: 'get KEY [--r N] [--show-clock] [--json]', summary: 'read a key; its context is remembered', takesKey: true, usesContext: false, followsUse: true},
  {
    name: 'put',
    command: 'put',
    usage: 'put KEY VALUE [--blind | --context TOKEN] [--file PATH] [--w N] [--json]',
    summary: 'write with the remembered context of KEY (--blind: without it)',
    takesKey: true,
    usesContext: true,
    followsUse: true,
  },
  {
    name: 'delete',
    command: 'delete',
    usage: 'delete KEY [--blind | --context TOKEN] [--w N] [--json]',
    summary: 'delete what the remembered context of KEY saw (--blind: what a quorum holds)',
    takesKey: true,
    usesContext: true,
    followsUse: true,
  },
  {
    name: 'resolve',
    command: 'resolve',
    usage: 'resolve KEY [--pick N | --value V | --file PATH] [--json]',
    summary: 'pick one sibling or write a merged value over all of them',
    takesKey: true,
    usesContext: false,
    followsUse: true,
  },
  {name: 'conflicts', command: 'conflicts', usage: 'conflicts [--limit K] [--json]', summary: 'keys that have more than one sibling, on every node (--node N: on one)', takesKey: false, usesContext: false, followsUse: false},
  {name: 'ring', command: 'ring', usage: 'ring [--key KEY] [--json]', summary: 'ring ownership, or where a key lives', takesKey: false, usesContext: false, followsUse: true},
  {name: 'status', command: 'cluster:status', usage: 'status [--json]', summary: 'nodes, members and handoffs (of a local cluster, or through --host)', takesKey: false, usesContext: false, followsUse: true},
  {name: 'merkle', command: 'merkle:diff', usage: 'merkle diff A B [--partition P] [--json]', summary: "compare two replicas' Merkle trees", takesKey: false, usesContext: false, followsUse: false, subcommand: 'diff'},
]

export interface BuiltinVerb {
  readonly name: string
  readonly usage: string
  readonly summary: string
}

export const builtinVerbs: readonly BuiltinVerb[] = [
  {name: 'use', usage: 'use [NODE | HOST:PORT]', summary: 'send requests through one node; alone: back to the whole cluster'},
  {name: 'set', usage: 'set [r|w N]', summary: 'R or W for every request (`set r default` to drop it); alone: show settings'},
  {name: 'contexts', usage: 'contexts [KEY]', summary: 'the contexts remembered per key, readable and as tokens'},
  {name: 'forget', usage: 'forget KEY | forget --all', summary: 'drop remembered contexts: the next put of KEY is blind'},
  {name: 'history', usage: 'history', summary: 'the lines typed so far (kept across sessions)'},
  {name: 'help', usage: 'help [VERB]', summary: "this list, or a command's own help"},
  {name: 'exit', usage: 'exit (or Ctrl-D)', summary: 'leave the shell'},
]

/** Words accepted for `exit`. */
export const exitWords: ReadonlySet<string> = new Set(['exit', 'quit'])

export function findCommandVerb(name: string): CommandVerb | undefined {
  return commandVerbs.find((verb) => verb.name === name)
}
