// The Random port: every random choice in the core and the node (gossip peer, jitter,
// simulated faults) goes through it, so a simulation seeded with one number replays
// exactly (DESIGN §1.2). The seeded generator is xoshiro128** (Blackman & Vigna, 2018),
// seeded through splitmix32 so that nearby seeds give unrelated streams.

export interface Random {
  /** A uniformly distributed integer in [0, 2^32). */
  nextUint32(): number
}

export class SeededRandom implements Random {
  // Invariant: the four state words are never all zero (xoshiro's one forbidden state).
  private readonly state: Uint32Array

  constructor(seed: number) {
    this.state = new Uint32Array(4)
    let mix = seed >>> 0
    for (let i = 0; i < 4; i++) {
      mix = (mix + 0x9e3779b9) >>> 0
      let z = mix
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      this.state[i] = (z ^ (z >>> 16)) >>> 0
    }
    if (this.state.every((word) => word === 0)) this.state[0] = 1
  }

  nextUint32(): number {
    const s = this.state
    const s0 = s[0]!
    const s1 = s[1]!
    const s2 = s[2]!
    const s3 = s[3]!
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0
    const t = (s1 << 9) >>> 0
    s[2] = s2 ^ s0
    s[3] = s3 ^ s1
    s[1] = s1 ^ s[2]!
    s[0] = s0 ^ s[3]!
    s[2] = s[2]! ^ t
    s[3] = rotl(s[3]!, 11)
    return result
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}

/** A float in [0, 1) with 32 bits of randomness. */
export function randomFloat(random: Random): number {
  return random.nextUint32() / 2 ** 32
}

/** An integer in [0, bound), without modulo bias (rejection sampling). */
export function randomInt(random: Random, bound: number): number {
  if (!Number.isInteger(bound) || bound <= 0 || bound > 2 ** 32) {
    throw new RangeError(`randomInt bound must be an integer in [1, 2^32], got ${bound}`)
  }
  const limit = 2 ** 32 - (2 ** 32 % bound)
  for (;;) {
    const x = random.nextUint32()
    if (x < limit) return x % bound
  }
}

/** One element of a non-empty list. */
export function randomPick<T>(random: Random, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError('randomPick needs a non-empty list')
  return items[randomInt(random, items.length)]!
}

/** A shuffled copy (Fisher–Yates). */
export function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1)
    ;[copy[i], copy[j]] = [copy[j]!, copy[i]!]
  }
  return copy
}
