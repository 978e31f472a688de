// Sparklines: a series of numbers drawn as one line of block characters, one per value,
// scaled so that the largest value reaches the top. Zero draws the lowest block and any
// value above zero at least the second lowest, so that a little traffic is never drawn as
// none; a missing value (no answer, no requests to time) is a blank. Pure.

/** Unicode's eight lower blocks, U+2581 to U+2588. */
export const blockLevels = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const

/** The same eight levels in ASCII, for terminals that are not UTF-8. */
export const asciiLevels = ['_', '.', ',', ':', '-', '=', '+', '#'] as const

/** The level (0 .. levels − 1) of `value` on a scale whose top is `max`: 0 for zero (or
 * less), at least 1 for anything above zero, levels − 1 for `max` and above. */
export function sparkLevel(value: number, max: number, levels: number): number {
  if (!(value > 0)) return 0
  if (!(max > 0) || value >= max) return levels - 1
  return Math.max(1, Math.min(levels - 1, Math.ceil((value / max) * (levels - 1))))
}

/** The newest `width` values as a sparkline, right-aligned (the newest at the right edge),
 * padded with blanks on the left when there are fewer values. The scale's top is `max`, or
 * the largest value shown. */
export function sparkline(values: readonly (number | undefined)[], options: {width: number; max?: number; ascii?: boolean}): string {
  const width = Math.max(0, Math.floor(options.width))
  const shown = width === 0 ? [] : values.slice(-width)
  const levels = options.ascii === true ? asciiLevels : blockLevels
  const max = options.max ?? sparkMax(shown)
  const line = shown.map((value) => (value === undefined || !Number.isFinite(value) ? ' ' : levels[sparkLevel(value, max, levels.length)]!)).join('')
  return ' '.repeat(width - shown.length) + line
}

/** The largest finite value, or 0. */
export function sparkMax(values: readonly (number | undefined)[]): number {
  let max = 0
  for (const value of values) if (value !== undefined && Number.isFinite(value) && value > max) max = value
  return max
}
