// Named errors of local cluster management; each says what to do.
import {DynError, exitCodes} from '../core/errors.js'

export class ClusterParameterError extends DynError {
  constructor(field: string, value: unknown, allowed: string) {
    super(`${field} ${String(value)} is not allowed: ${allowed}`, {
      code: 'CLUSTER_PARAMETER_INVALID',
      exitCode: exitCodes.usage,
      suggestion: `give ${field} ${allowed}`,
    })
  }
}

export class ClusterRunningError extends DynError {
  constructor(dir: string, running: readonly {name: string; pid: number | null}[]) {
    const listed = running.map((node) => `${node.name} (pid ${String(node.pid)})`).join(', ')
    super(`a cluster is already running in ${dir}: ${listed}`, {
      code: 'CLUSTER_RUNNING',
      exitCode: exitCodes.error,
      suggestion: 'use it as it is, stop it first with `dyn cluster down`, or choose another directory with --dir',
    })
  }
}

export class PortTakenError extends DynError {
  constructor(node: string, what: string, address: string) {
    super(`the ${what} port of node ${node}, ${address}, is already in use`, {
      code: 'PORT_IN_USE',
      exitCode: exitCodes.error,
      suggestion: 'stop the process using it, or choose other ports with --base-port',
    })
  }
}

export class NodeStartError extends DynError {
  readonly node: string
  readonly logPath: string

  constructor(options: {node: string; problem: string; logPath: string; logTail: string}) {
    const tail = options.logTail.trim() === '' ? '(the log is empty)' : options.logTail.trimEnd()
    super(`node ${options.node} did not start: ${options.problem}\nlog: ${options.logPath}\nlast lines of the log:\n${indent(tail)}`, {
      code: 'NODE_START_FAILED',
      exitCode: exitCodes.error,
      suggestion: `read ${options.logPath}, fix the cause and start the node again`,
    })
    this.node = options.node
    this.logPath = options.logPath
  }
}

export class UnknownClusterNodeError extends DynError {
  constructor(name: string, known: readonly string[]) {
    super(`node ${name} is not in this cluster (nodes: ${known.join(', ')})`, {
      code: 'NODE_UNKNOWN',
      exitCode: exitCodes.usage,
      suggestion: 'name one of the nodes listed by `dyn cluster status`',
    })
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n')
}
