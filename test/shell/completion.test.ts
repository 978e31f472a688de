import {describe, expect, it} from 'vitest'
import {complete, type CompletionSources} from '../../src/shell/index.js'

const sources: CompletionSources = {
  flagsOf: (command) => (command === 'put' ? ['context', 'w', 'json'] : ['r', 'json']),
  recentKeys: ['cart', 'car', 'user:1'],
  nodeNames: ['n1', 'n2'],
}

describe('tab completion', () => {
  it('completes verbs at the start of the line', () => {
    expect(complete('ge', sources)).toEqual([['get'], 'ge'])
    expect(complete('re', sources)[0].sort()).toEqual(['resolve'])
    expect(complete('', sources)[0]).toEqual(expect.arrayContaining(['get', 'put', 'use', 'help', 'exit']))
  })

  it('completes recent keys where a key goes', () => {
    expect(complete('get ca', sources)).toEqual([['cart', 'car'], 'ca'])
    expect(complete('put u', sources)).toEqual([['user:1'], 'u'])
    expect(complete('ring --key c', sources)).toEqual([['cart', 'car'], 'c'])
    // Only the first argument is a key.
    expect(complete('put cart c', sources)).toEqual([[], 'c'])
  })

  it("completes the verb's flags, and --blind for put", () => {
    expect(complete('put cart apple --', sources)[0]).toEqual(['--context', '--w', '--json', '--blind'])
    expect(complete('get cart --r', sources)[0]).toEqual(['--r'])
  })

  it('completes node names after use and --node, settings after set', () => {
    expect(complete('use n', sources)).toEqual([['n1', 'n2'], 'n'])
    expect(complete('get k --node ', sources)).toEqual([['n1', 'n2'], ''])
    expect(complete('set ', sources)[0]).toEqual(['r', 'w'])
    expect(complete('merkle d', sources)[0]).toEqual(['diff'])
  })
})
