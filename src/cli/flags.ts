// Flags several commands share, defined once so their names, environment variables and
// help texts stay the same everywhere (DESIGN §8: a command addresses a local cluster by
// its directory or any node by HOST:PORT).
import {Flags} from '@oclif/core'
import {DynError, exitCodes} from '../core/errors.js'

export const dirFlag = Flags.string({description: 'local cluster directory', env: 'DYN_DIR', default: './.dyn'})

/** TLS to the nodes (DESIGN §11): the commands' base class (base-command.ts parse) puts them
 * in their variables, which every client of the process reads (client/tls.ts). A command
 * without them connects in plaintext. */
export const tlsFlags = {
  'tls-ca': Flags.string({description: "connect with TLS, trusting the CA certificate(s) in this PEM file (the cluster's ca.pem)", env: 'DYN_TLS_CA'}),
  'tls-cert': Flags.string({description: 'client certificate (PEM) for nodes that require one (mutual TLS); with --tls-key', env: 'DYN_TLS_CERT'}),
  'tls-key': Flags.string({description: 'private key (PEM) of --tls-cert', env: 'DYN_TLS_KEY'}),
}

/** How a command finds a node: a node of the local cluster by name, or any node by address. */
export function targetFlags(verb: 'ask' | 'send to') {
  return {
    // Not exclusive with --host: DYN_HOST exported for everyday use must not forbid --node.
    node: Flags.string({description: `${verb} this node of the local cluster (it coordinates or forwards); wins over --host`}),
    host: Flags.string({description: `${verb} the node at HOST:PORT`, env: 'DYN_HOST'}),
    dir: dirFlag,
    cluster: Flags.string({description: 'cluster name (default: from the cluster directory, else "dyn")', env: 'DYN_CLUSTER'}),
    ...tlsFlags,
  }
}

export const showClockFlag = Flags.boolean({description: 'also show the context as a readable version vector (n1:4, n3:2)'})

export const writeFlags = {
  w: Flags.integer({min: 1, description: 'replicas that must acknowledge (1..N; default: the cluster W)'}),
  'show-clock': showClockFlag,
  ...targetFlags('send to'),
}

/** Parses a whole number in [min, max]; the error names the whole allowed range (oclif's
 * own names only the bound that was crossed). */
function parseInRange(range: {min: number; max: number}): (input: string) => Promise<number> {
  return async (input) => {
    const value = Number(input)
    if (!/^-?\d+$/.test(input.trim()) || !Number.isSafeInteger(value) || value < range.min || value > range.max) {
      throw new DynError(`${input} is not allowed: give a whole number from ${range.min} to ${range.max}`, {code: 'USAGE', exitCode: exitCodes.usage})
    }
    return value
  }
}

/** An integer flag with a default, refused outside [min, max] with a usage error. */
export function rangeFlag(options: {min: number; max: number; default: number; description: string}) {
  return Flags.custom<number>({default: options.default, description: `${options.description} (${options.min}..${options.max})`, parse: parseInRange(options)})()
}

/** An integer flag without a default, refused outside [min, max] with a usage error. */
export function optionalRangeFlag(options: {min: number; max: number; description: string}) {
  return Flags.custom<number>({description: `${options.description} (${options.min}..${options.max})`, parse: parseInRange(options)})()
}
