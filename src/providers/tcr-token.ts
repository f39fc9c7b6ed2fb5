import type {Credentials} from '../registry/auth.js'

/** A temporary registry login from CreateInstanceToken. */
export interface InstanceLogin {
  username: string
  password: string
  /** Epoch milliseconds after which the registry refuses it. */
  expiresAt: number
  /** Epoch milliseconds when it was issued (fetched). */
  issuedAt: number
}

/** Temporary tokens live an hour ("temp" in the API's words). */
const DEFAULT_LIFETIME_MS = 60 * 60_000
const MAX_MARGIN_MS = 5 * 60_000

/**
 * ExpTime is documented only as "a timestamp number, no unit": TCR answers in milliseconds, but a
 * value below 1e11 (1973 in milliseconds, the year 5138 in seconds) can only be seconds. Pure.
 */
export function loginExpiry(expTime: number | undefined, issuedAt: number): number {
  if (typeof expTime !== 'number' || !Number.isFinite(expTime) || expTime <= 0) return issuedAt + DEFAULT_LIFETIME_MS
  return expTime < 1e11 ? expTime * 1000 : expTime
}

/**
 * When to fetch a new login: five minutes before expiry, or a quarter of the lifetime before it
 * for short-lived ones, so a long copy never starts a request with a login about to die. Pure.
 */
export function refreshAt(login: Pick<InstanceLogin, 'expiresAt' | 'issuedAt'>): number {
  const lifetime = Math.max(0, login.expiresAt - login.issuedAt)
  return login.expiresAt - Math.min(MAX_MARGIN_MS, lifetime / 4)
}

/**
 * The registry login of a run: fetched on first use, reused until it is due for refresh, and
 * fetched once for all concurrent callers. A failed fetch is not remembered, so the next caller
 * tries again.
 */
export class RefreshingLogin {
  private current?: InstanceLogin
  private pending?: Promise<InstanceLogin>

  constructor(
    private readonly fetchLogin: () => Promise<InstanceLogin>,
    private readonly now: () => number = Date.now,
  ) {}

  async credentials(): Promise<Credentials> {
    const login = this.current && this.now() < refreshAt(this.current) ? this.current : await this.refresh()
    return {username: login.username, password: login.password}
  }

  private refresh(): Promise<InstanceLogin> {
    this.pending ??= this.fetchLogin()
      .then((login) => {
        this.current = login
        return login
      })
      .finally(() => {
        this.pending = undefined
      })
    return this.pending
  }
}
