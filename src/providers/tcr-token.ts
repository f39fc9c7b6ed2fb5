import type {LoginLifetime} from './temporary-login.js'

/** A temporary registry login from CreateInstanceToken. */
export interface InstanceLogin extends LoginLifetime {
  username: string
  password: string
}

/** Temporary tokens live an hour ("temp" in the API's words). */
const DEFAULT_LIFETIME_MS = 60 * 60_000

/**
 * ExpTime is documented only as "a timestamp number, no unit": TCR answers in milliseconds, but a
 * value below 1e11 (1973 in milliseconds, the year 5138 in seconds) can only be seconds. Pure.
 */
export function loginExpiry(expTime: number | undefined, issuedAt: number): number {
  if (typeof expTime !== 'number' || !Number.isFinite(expTime) || expTime <= 0) return issuedAt + DEFAULT_LIFETIME_MS
  return expTime < 1e11 ? expTime * 1000 : expTime
}
