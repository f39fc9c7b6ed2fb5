import {ConfigError} from '../errors.js'

/**
 * Requests per second as written on the command line or in schedule.yaml → a number: a fraction
 * (0.5 is one request every 2 s, the pace a Docker Hub pull limit asks for), a whole number, or 0
 * for unlimited. Anything else is a ConfigError naming `what`. Pure.
 */
export function parseQps(value: unknown, what: string): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : undefined
  const qps = text !== undefined && /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isFinite(qps)) {
    throw new ConfigError(`${what}: ${JSON.stringify(value)} is not a rate; write requests per second: 0.5 (one every 2 s), 10, or 0 (unlimited)`)
  }
  // 1e-9 would pace one request every 31 years: a typo, not a setting.
  if (qps > 0 && qps < 0.001) throw new ConfigError(`${what}: ${text} is below 0.001 (one request every ~17 minutes); write 0 for unlimited`)
  return qps
}
