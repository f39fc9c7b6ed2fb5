/**
 * When a credential with a lifetime (a bearer token, a provider's temporary registry login) must
 * be renewed, and when a registry's refusal means it ran out. Pure: the callers hold the clock.
 */

/** When a credential was issued and when it stops being accepted, in epoch milliseconds. */
export interface Lifetime {
  issuedAt: number
  expiresAt: number
}

/**
 * How long before expiry a credential is renewed: `fraction` of its lifetime, at most `maxMs`.
 * A fraction rather than a fixed head start, so a short-lived credential is not renewed for
 * every request, while a long-lived one still leaves `maxMs` for a request queued behind the
 * rate limit or crossing a slow link.
 */
export interface RenewalMargin {
  maxMs: number
  fraction: number
}

/** The moment a credential is renewed. */
export function renewAt({issuedAt, expiresAt}: Lifetime, margin: RenewalMargin): number {
  const lifetime = Math.max(0, expiresAt - issuedAt)
  return expiresAt - Math.min(margin.maxMs, lifetime * margin.fraction)
}

/** Whether a request sent at `now` must not carry this credential any more. */
export function needsRenewal(lifetime: Lifetime, now: number, margin: RenewalMargin): boolean {
  return now >= renewAt(lifetime, margin)
}

/** A registry's refusal of a request, as far as the credential is concerned. */
export interface Refusal {
  status: number
  method: string
  /** The first error of an OCI error body, when there was one. */
  error?: {code?: string; message?: string}
  /** The request carried a provider's temporary login (a Basic header built from it). */
  providerLogin: boolean
}

const AUTH_CODES = new Set(['DENIED', 'UNAUTHORIZED'])

/**
 * Whether a refusal may mean the credential ran out, so that one renewal and one more try can
 * succeed: a 401 or 403 whose DENIED/UNAUTHORIZED error says "expired" (ECR: 403 "Your
 * authorization token has expired"), a 401 to a provider's login (temporary by nature), or a 403
 * to a HEAD with one (the answer of a HEAD has no body to say why).
 */
export function refusedAsExpired({status, method, error, providerLogin}: Refusal): boolean {
  if (status !== 401 && status !== 403) return false
  if (error?.code && AUTH_CODES.has(error.code.toUpperCase()) && /expired/i.test(error.message ?? '')) return true
  if (!providerLogin) return false
  return status === 401 || method === 'HEAD'
}
