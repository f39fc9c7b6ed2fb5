/** When a temporary login was issued and when the registry stops accepting it, in epoch milliseconds. */
export interface LoginLifetime {
  issuedAt: number
  expiresAt: number
}

/** The largest head start a refresh gets over expiry. */
const MAX_MARGIN_MS = 5 * 60_000

/**
 * When to fetch a new login: five minutes before it expires, or a quarter of its lifetime before
 * for short-lived ones, so a long copy never starts a request (say a layer upload) with a login
 * about to die, and a short-lived login is not fetched again on every request. Pure.
 */
export function refreshAt({issuedAt, expiresAt}: LoginLifetime): number {
  const lifetime = Math.max(0, expiresAt - issuedAt)
  return expiresAt - Math.min(MAX_MARGIN_MS, lifetime / 4)
}

/**
 * A temporary registry login: fetched on first use (unless one is handed in), reused until
 * {@link refreshAt}, and fetched once for all concurrent callers, so a hundred routines hitting
 * expiry together cost one API call. A failed fetch is not remembered: the next caller tries again.
 */
export class TemporaryLoginCache<T extends LoginLifetime> {
  private login?: T
  private pending?: Promise<T>
  private readonly now: () => number

  constructor(
    private readonly fetch: () => Promise<T>,
    options: {initial?: T; now?: () => number} = {},
  ) {
    this.login = options.initial
    this.now = options.now ?? Date.now
  }

  async current(): Promise<T> {
    if (this.login && this.now() < refreshAt(this.login)) return this.login
    this.pending ??= this.fetch()
      .then((login) => {
        this.login = login
        return login
      })
      .finally(() => {
        this.pending = undefined
      })
    return this.pending
  }
}
