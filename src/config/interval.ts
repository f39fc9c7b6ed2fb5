import {ConfigError} from '../errors.js'

const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000}

/** The longest interval a Node timer can wait in one go (about 24.8 days). */
export const MAX_INTERVAL_MS = 2 ** 31 - 1

/**
 * `--interval` text to milliseconds: a number with a unit, or several (`1h30m`, `90s`, `500ms`).
 * A bare number is refused: seconds or minutes would both be a plausible guess. Pure.
 */
export function parseInterval(text: string, what = '--interval'): number {
  const trimmed = text.trim()
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy
  let total = 0
  let end = 0
  for (let match = part.exec(trimmed); match; match = part.exec(trimmed)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!
    end = part.lastIndex
  }
  if (trimmed === '' || end !== trimmed.length) {
    throw new ConfigError(`${what} ${JSON.stringify(text)} is not a duration; write a number with a unit: 500ms, 30s, 15m, 1h30m, 1d`)
  }
  const ms = Math.round(total)
  if (ms < 1) throw new ConfigError(`${what} ${JSON.stringify(text)} must be longer than zero`)
  if (ms > MAX_INTERVAL_MS) throw new ConfigError(`${what} ${JSON.stringify(text)} is longer than 24 days; use --schedule with a cron expression instead`)
  return ms
}

/** 90000 → "1m30s", for log lines. Pure. */
export function formatInterval(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  const parts: string[] = []
  let rest = Math.round(ms / 1000)
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
  }
  return parts.join('')
}
