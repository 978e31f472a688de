// Command-line arguments of bench/cluster.ts, parsed and validated before anything starts,
// so that a typo fails at once with a usage error instead of after minutes of setup.
import {systemNames, type SystemName} from './rows.js'

/** Rounds per row by default: the median of three already drops one outlier round, which
 * is most of what a shared 2-core machine produces. */
export const roundsDefault = 3

/** Seconds per measurement by default: long enough for a few thousand requests even at
 * concurrency 1, short enough that the full run (3 systems × 2 ops × 4 concurrencies ×
 * 3 rounds = 72 measurements) stays near six minutes with setup. */
export const secondsDefault = 4

/** More rounds than this is a typo; the run would take hours. */
export const roundsMax = 99

/** Longest measurement accepted: an hour per row is a typo, not a benchmark. */
export const secondsMax = 3600

/** The client concurrencies every system is measured at (same for each system). */
export const concurrenciesDefault: readonly number[] = [1, 16, 64, 256]

/** Most concurrent requests one measurement may keep in flight: beyond this the load
 * generator, a single Node.js process, measures itself rather than the servers. */
export const concurrencyMax = 4096

export interface BenchArgs {
  readonly json: boolean
  readonly rounds: number
  readonly seconds: number
  readonly concurrencies: readonly number[]
  readonly systems: readonly SystemName[]
  /** Whether missing peers may be installed from Debian (apt-get). */
  readonly install: boolean
  /** More fields of every dyn node's configuration (docs/node.md), for an A/B of a
   * setting: `--dyn-config '{"readFanout":"all"}'`. */
  readonly dynConfig: Readonly<Record<string, unknown>>
}

export const usage = `usage: npm run bench:cluster -- [--json] [--rounds N] [--seconds S]
                              [--concurrency 1,16,64,256] [--systems dyn,dyn-tls,etcd,redis] [--no-install]
                              [--dyn-config '{"FIELD": VALUE}']`

export class UsageError extends Error {
  readonly exitCode = 2
}

/** Parses argv (without node and the script path). Throws UsageError naming the bad flag. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  let json = false
  let install = true
  let rounds = roundsDefault
  let seconds = secondsDefault
  let concurrencies = concurrenciesDefault
  let systems: readonly SystemName[] = systemNames
  let dynConfig: Readonly<Record<string, unknown>> = {}
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? ''
    const value = (): string => {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value\n${usage}`)
      i++
      return next
    }
    switch (flag) {
      case '--json':
        json = true
        break
      case '--no-install':
        install = false
        break
      case '--rounds':
        rounds = integerIn(flag, value(), 1, roundsMax)
        break
      case '--seconds':
        seconds = positiveNumber(flag, value(), secondsMax)
        break
      case '--concurrency':
        concurrencies = listOf(flag, value(), (item) => integerIn(flag, item, 1, concurrencyMax))
        break
      case '--systems':
        systems = listOf(flag, value(), (item) => systemName(flag, item))
        break
      case '--dyn-config':
        dynConfig = jsonObject(flag, value())
        break
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(flag)}\n${usage}`)
    }
  }
  return {json, rounds, seconds, concurrencies, systems, install, dynConfig}
}

/** A JSON object of node configuration fields; the node checks the fields themselves. */
function jsonObject(flag: string, text: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new UsageError(`${flag} must be a JSON object, got ${JSON.stringify(text)}\n${usage}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${flag} must be a JSON object, got ${JSON.stringify(text)}\n${usage}`)
  return parsed as Record<string, unknown>
}

function integerIn(flag: string, text: string, min: number, max: number): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`${flag}: ${JSON.stringify(text)} is not an integer from ${min} to ${max}`)
  }
  return value
}

function positiveNumber(flag: string, text: string, max: number): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a number of seconds above 0 and at most ${max}`)
  }
  return value
}

function systemName(flag: string, text: string): SystemName {
  const found = systemNames.find((name) => name === text)
  if (found === undefined) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not one of ${systemNames.join(', ')}`)
  return found
}

/** A comma-separated list without duplicates, in the order given. */
function listOf<T>(flag: string, text: string, parse: (item: string) => T): readonly T[] {
  const items = text.split(',').map((item) => item.trim())
  if (items.some((item) => item === '')) throw new UsageError(`${flag}: ${JSON.stringify(text)} has an empty item`)
  if (new Set(items).size !== items.length) throw new UsageError(`${flag}: ${JSON.stringify(text)} names an item twice`)
  return items.map(parse)
}
