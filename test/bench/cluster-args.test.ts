// The arguments of bench/cluster.ts: defaults, each flag, and the usage errors.
import {describe, expect, it} from 'vitest'
import {concurrenciesDefault, parseArgs, roundsDefault, secondsDefault, UsageError} from '../../bench/peers/args.js'

describe('bench:cluster arguments', () => {
  it('defaults to every system at 1, 16, 64 and 256, three rounds, installing peers', () => {
    expect(parseArgs([])).toEqual({
      json: false,
      rounds: roundsDefault,
      seconds: secondsDefault,
      concurrencies: [1, 16, 64, 256],
      systems: ['dyn', 'dyn-tls', 'etcd', 'redis'],
      install: true,
      dynConfig: {},
    })
    expect(concurrenciesDefault).toEqual([1, 16, 64, 256])
    expect(roundsDefault).toBeGreaterThanOrEqual(3)
  })

  it('reads every flag', () => {
    expect(parseArgs(['--json', '--rounds', '5', '--seconds', '0.5', '--concurrency', '1,16', '--systems', 'dyn,redis', '--no-install', '--dyn-config', '{"readFanout":"all"}'])).toEqual({
      json: true,
      rounds: 5,
      seconds: 0.5,
      concurrencies: [1, 16],
      systems: ['dyn', 'redis'],
      install: false,
      dynConfig: {readFanout: 'all'},
    })
  })

  it.each([
    [['--rounds', '0'], /--rounds: "0" is not an integer from 1/],
    [['--rounds', '2.5'], /--rounds/],
    [['--rounds'], /--rounds needs a value/],
    [['--rounds', '--json'], /--rounds needs a value/],
    [['--seconds', '0'], /--seconds: "0"/],
    [['--seconds', 'abc'], /--seconds/],
    [['--seconds', ''], /--seconds/],
    [['--concurrency', '1,,16'], /empty item/],
    [['--concurrency', '16,16'], /twice/],
    [['--concurrency', '0'], /--concurrency: "0"/],
    [['--systems', 'dyn,cassandra'], /"cassandra" is not one of dyn, dyn-tls, etcd, redis/],
    [['--sekonds', '3'], /unknown argument "--sekonds"/],
    [['--dyn-config', '{readFanout: all}'], /--dyn-config must be a JSON object/],
    [['--dyn-config', '[1]'], /--dyn-config must be a JSON object/],
  ])('refuses %j with a usage error', (argv, message) => {
    let thrown: unknown
    try {
      parseArgs(argv)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(UsageError)
    expect((thrown as UsageError).message).toMatch(message)
    expect((thrown as UsageError).exitCode).toBe(2)
  })
})
