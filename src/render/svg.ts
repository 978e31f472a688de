// Small helpers of the pictures `dyn ring --svg` and `dyn bench --html` draw: XML escaping,
// coordinates, and axis ticks.

/** Text and attribute values, escaped for XML (and so for HTML). */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`)
}

/** A coordinate with at most two decimals: enough for a screen, and short. */
export function fixed(value: number): string {
  return (Math.round(value * 100) / 100).toString()
}

/** Ticks of a linear axis from 0 to at least `max`: 1, 2 or 5 times a power of ten apart,
 * about `wanted` of them. */
export function linearTicks(max: number, wanted = 5): number[] {
  if (!(max > 0)) return [0, 1]
  const raw = max / wanted
  const power = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= raw) ?? 10 * power
  const count = Math.ceil(max / step - 1e-9)
  return Array.from({length: count + 1}, (_, index) => Math.round(index * step * 1e9) / 1e9)
}

/** Ticks of a log axis covering [low, high]: 1, 2 and 5 times each power of ten. */
export function logTicks(low: number, high: number): number[] {
  const ticks: number[] = []
  for (let power = Math.floor(Math.log10(low)); power <= Math.ceil(Math.log10(high)); power++) {
    for (const factor of [1, 2, 5]) {
      const tick = factor * 10 ** power
      if (tick >= low * 0.999 && tick <= high * 1.001) ticks.push(Number(tick.toPrecision(3)))
    }
  }
  return ticks
}
