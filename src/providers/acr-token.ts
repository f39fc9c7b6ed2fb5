import type {Credentials} from '../registry/auth.js'

/** A temporary registry login the API hands out (GetAuthorizationToken, GET /tokens). */
export interface TemporaryLogin {
  username: string
  password: string
  /** Epoch milliseconds; NaN when the answer did not say. */
  expiresAt: number
}

/** ACR logins last an hour; refreshing 5 minutes early keeps a slow blob upload from starting with a dying one. */
const MARGIN_MS = 5 * 60_000
/** A login whose answer gave no expiry is reused this long. */
const UNKNOWN_LIFETIME_MS = 10 * 60_000

/**
 * Pure: whether a login fetched at `fetchedAt` may still be handed out at `now`. The margin is
 * at most half the login's lifetime, or a short-lived login would be fetched again on every request.
 */
export function loginIsFresh(login: TemporaryLogin, fetchedAt: number, now: number, marginMs = MARGIN_MS): boolean {
  const expiresAt = Number.isFinite(login.expiresAt) ? login.expiresAt : fetchedAt + UNKNOWN_LIFETIME_MS
  const margin = Math.min(marginMs, Math.max(0, expiresAt - fetchedAt) / 2)
  return now < expiresAt - margin
}

/**
 * The `credentials` source a provider's access() returns: the registry client calls it whenever
 * it builds a basic header or fetches a bearer token, so it must be cheap when the login is
 * fresh. Concurrent callers during a refresh share one API call; a failed refresh is not kept.
 */
export function refreshingLogin(
  fetch: () => Promise<TemporaryLogin>,
  options: {now?: () => number; marginMs?: number} = {},
): () => Promise<Credentials> {
  const now = options.now ?? Date.now
  let current: {login: TemporaryLogin; fetchedAt: number} | undefined
  let pending: Promise<TemporaryLogin> | undefined
  return async () => {
    if (current && loginIsFresh(current.login, current.fetchedAt, now(), options.marginMs)) {
      return {username: current.login.username, password: current.login.password}
    }
    if (!pending) {
      const fetchedAt = now()
      pending = fetch()
        .then((login) => {
          current = {login, fetchedAt}
          return login
        })
        .finally(() => {
          pending = undefined
        })
    }
    const login = await pending
    return {username: login.username, password: login.password}
  }
}
