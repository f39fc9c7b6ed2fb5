import type {CredentialSource, Credentials} from '../registry/auth.js'
import {needsRenewal, renewAt, type Lifetime, type RenewalMargin} from '../registry/credential-expiry.js'

/** When a temporary login was issued and when the registry stops accepting it, in epoch milliseconds. */
export type LoginLifetime = Lifetime

/**
 * Five minutes before a login expires, or a quarter of its lifetime before for short-lived ones,
 * so a long copy never starts a request (say a layer upload) with a login about to die, and a
 * short-lived login is not fetched again on every request.
 */
const LOGIN_MARGIN: RenewalMargin = {maxMs: 5 * 60_000, fraction: 1 / 4}

/** When to fetch a new login. Pure. */
export function refreshAt(lifetime: LoginLifetime): number {
  return renewAt(lifetime, LOGIN_MARGIN)
}

/**
 * A temporary registry login: fetched on first use (unless one is handed in), reused until
 * {@link refreshAt}, and fetched once for all concurrent callers, so a hundred routines hitting
 * expiry together cost one API call. A failed fetch is not remembered: the next caller tries again.
 *
 * A login the registry refused (`current(refused)`) is fetched again, but a login that was itself
 * fetched because of a refusal and is refused while young (within its renewal margin of being
 * issued) is kept: a registry that refuses every login (a wrong account, a missing permission)
 * costs one extra fetch per margin, not one per request, while a registry whose clock runs ahead
 * still gets a new login each time the last one dies there.
 */
export class TemporaryLoginCache<T extends LoginLifetime> {
  private login?: T
  private pending?: Promise<T>
  /** The login in hand came from a refusal's renewal. */
  private renewed = false
  private readonly now: () => number

  constructor(
    private readonly fetch: () => Promise<T>,
    options: {initial?: T; now?: () => number} = {},
  ) {
    this.login = options.initial
    this.now = options.now ?? Date.now
  }

  /** The login to send now; `refused` tells whether the registry refused a login (this one, or an older one). */
  async current(refused?: (login: T) => boolean): Promise<T> {
    const login = this.login
    if (this.pending) return this.pending
    if (login && !needsRenewal(login, this.now(), LOGIN_MARGIN)) {
      if (!refused?.(login) || (this.renewed && this.young(login))) return login
      return this.renew(true)
    }
    return this.renew(false)
  }

  private young({issuedAt, expiresAt}: T): boolean {
    return this.now() - issuedAt < expiresAt - refreshAt({issuedAt, expiresAt})
  }

  private renew(onRefusal: boolean): Promise<T> {
    this.pending ??= this.fetch()
      .then((login) => {
        this.login = login
        this.renewed = onRefusal
        return login
      })
      .finally(() => {
        this.pending = undefined
      })
    return this.pending
  }
}

/**
 * The `credentials` a provider's access() hands the registry client: asked for each request's
 * Basic header and each token fetch, so cheap while the login is fresh; told which login the
 * registry refused, so a refused login is renewed once.
 */
export function loginSource<T extends LoginLifetime & {username: string; password: string}>(logins: TemporaryLoginCache<T>): CredentialSource {
  return async (refused?: Credentials) => {
    const {username, password} = await logins.current(refused && ((login) => login.password === refused.password && login.username === refused.username))
    return {username, password}
  }
}
