import type {LoginLifetime} from './temporary-login.js'

/** A temporary registry login the API hands out (GetAuthorizationToken, GET /tokens). */
export interface TemporaryLogin {
  username: string
  password: string
  /** Epoch milliseconds; NaN when the answer did not say. */
  expiresAt: number
}

/** A login whose answer gave no expiry is reused this long. */
const UNKNOWN_LIFETIME_MS = 10 * 60_000

/** The login with the time it was fetched, and an expiry even when the answer gave none. Pure. */
export function timedLogin(login: TemporaryLogin, issuedAt: number): TemporaryLogin & LoginLifetime {
  const expiresAt = Number.isFinite(login.expiresAt) ? login.expiresAt : issuedAt + UNKNOWN_LIFETIME_MS
  return {...login, issuedAt, expiresAt}
}
