import {RegistryError} from '../../errors.js'
import {refusedAsExpired} from '../credential-expiry.js'
import {credentialsRefused, firstError, wrongLogin} from '../errors.js'
import {replayable} from '../request.js'
import {drain, readLimited, type Answer, type Layer, type Outgoing} from './exchange.js'

/** The authenticator as the auth layer sees it (`Authenticator` in ../auth.ts). */
export interface AuthState {
  /** The header for these scopes: a cached token, a fresh one, basic, or none. */
  authorization(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined>
  /** A 401 came back for `sent`: true when sending again can succeed. */
  unauthorized(header: string | undefined, scopes: readonly string[], sent: string | undefined): boolean
  /** `sent` was refused as expired: true when a renewed one can succeed (renewed on the next header). */
  expired(scopes: readonly string[], sent: string | undefined): boolean
  /** The credentials are a provider's temporary login, renewed during the run. */
  readonly renewable: boolean
  /** What the registry said when it refused a token. */
  readonly refusal?: string
  /** Why the credentials were kept from the token realm, when they were. */
  readonly withheld?: string
  readonly anonymous: boolean
}

/** How often one request may renew its authorization after a 401 before the 401 stands. */
export const RENEWALS = 2

/**
 * What the auth layer does with an answer: `challenge` a 401 from the registry (renew, or refuse),
 * `refuse` it saying what was refused (the 401, once renewals are spent, to an anonymous token
 * when the credentials were kept back, or to a provider's temporary login), or `pass` it up. A
 * 401 is challenged even when expected. Pure.
 */
export function authStep(
  status: number,
  {
    sameOrigin,
    renewals,
    expected,
    withheld,
    renewable = false,
  }: {sameOrigin: boolean; renewals: number; expected: boolean; withheld: boolean; renewable?: boolean},
): 'challenge' | 'refuse' | 'pass' {
  if (status !== 401 || !sameOrigin) return 'pass'
  if (renewals < RENEWALS) return 'challenge'
  return !expected && (withheld || renewable) ? 'refuse' : 'pass'
}

/**
 * What a refusal refused, and why credentials were kept back when they were; where they were
 * written (RegistryAccess.writtenIn) when the caller said so. Pure.
 */
export function refusedWhat(
  auth: Pick<AuthState, 'withheld' | 'anonymous'> & Partial<Pick<AuthState, 'renewable'>>,
  registry: string,
  writtenIn?: string,
): string {
  const given = `the credentials given for ${registry}${writtenIn ? ` (${writtenIn})` : ''}`
  if (auth.withheld) return `anonymous access: ${given} were not sent, as ${auth.withheld}`
  if (auth.renewable) return "the temporary login from the provider's API (check that its key may pull and push there)"
  return auth.anonymous ? `anonymous access (add credentials for ${registry}${writtenIn ? ` at ${writtenIn}` : ''})` : given
}

/**
 * Between the rate limit and the retry: each attempt to the registry's own origin carries the
 * authorization for its scopes (never to another host), and a 401 renews it, a challenge new to
 * us or a stale token, up to RENEWALS times for the request: the count spans its retries, which
 * the retry layer above sends as the same exchange (`outgoing`). A renewal's second try passes the
 * rate limit again. A failure to get a token is the request's failure: the retry above does not
 * repeat it.
 */
export function authorize(auth: AuthState, registry: string, writtenIn?: string): Layer {
  return (next) => {
    // Per exchange, not per layer: the layers are composed once per client.
    const renewalsOf = new WeakMap<Outgoing, number>()
    // A 403 that says the credential expired renews it up to RENEWALS times for the exchange (its
    // retries send the same `outgoing`), and never twice for the same one: a renewed credential
    // can die too while the attempt queues.
    const expiries = new WeakMap<Outgoing, {renewals: number; header?: string}>()
    return async (outgoing) => {
      const {request} = outgoing
      let renewals = renewalsOf.get(outgoing) ?? 0
      const expiry = expiries.get(outgoing) ?? {renewals: 0}
      expiries.set(outgoing, expiry)
      for (;;) {
        let authorization = outgoing.sameOrigin ? await auth.authorization(request.scopes, request.signal) : undefined
        // The rate limit may hold the attempt past its credential's renewal time: the transport
        // asks again as the attempt leaves (a lookup while the credential is fresh).
        const current = authorization ? async () => (authorization = await auth.authorization(request.scopes, request.signal)) : undefined
        const answer = await next({...outgoing, authorization, currentAuthorization: current})
        const renewable = expiry.renewals < RENEWALS && authorization !== expiry.header
        if (answer.status === 403 && outgoing.sameOrigin && authorization && renewable && !request.expect.includes(403)) {
          // Answered with its body read: the answer layer above reads it again for the error.
          const refused: Answer = {...answer, body: await readLimited(answer.body)}
          const expired = refusedAsExpired({
            status: 403,
            method: request.method,
            error: firstError(refused.body as Buffer | undefined),
            providerLogin: auth.renewable && authorization.startsWith('Basic '),
          })
          if (!expired || !auth.expired(request.scopes, authorization)) return refused
          expiry.renewals++
          expiry.header = authorization
          if (!replayable(request)) {
            throw new RegistryError('DENIED', `${request.what}: 403 the registry login expired during the request`, {status: 403, retryable: true})
          }
          continue
        }
        const step = authStep(answer.status, {
          sameOrigin: outgoing.sameOrigin,
          renewals,
          expected: request.expect.includes(answer.status),
          withheld: Boolean(auth.withheld),
          renewable: auth.renewable,
        })
        if (step === 'pass') return answer
        await drain(answer.body)
        if (step === 'refuse') {
          // Say what was refused: why the credentials stayed home, or that a provider's login is refused for good.
          throw new RegistryError('UNAUTHORIZED', `${request.what}: registry ${registry} refused ${refusedWhat(auth, registry, writtenIn)}`, {status: 401})
        }
        const renewed = auth.unauthorized(answer.headers['www-authenticate'], request.scopes, authorization)
        if (renewed && !replayable(request)) {
          // A streamed body cannot be sent twice: the caller opens a new stream and tries again,
          // with the token that the next request fetches.
          throw new RegistryError('UNAUTHORIZED', `${request.what}: token expired during the request`, {status: 401, retryable: true})
        }
        if (renewed) {
          renewalsOf.set(outgoing, ++renewals)
          continue
        }
        const refusal = auth.refusal ? ` (${auth.refusal})` : ''
        const refused = new RegistryError('UNAUTHORIZED', `${request.what}: registry ${registry} refused ${refusedWhat(auth, registry, writtenIn)}${refusal}`, {
          status: 401,
        })
        // A username and password sent as Basic and refused are wrong for every request (a bearer
        // token's 401 may be one repository's scope; a provider's login is renewed instead).
        const wrong = authorization?.startsWith('Basic ') && !auth.renewable && !auth.anonymous
        throw wrong ? credentialsRefused(refused, wrongLogin(registry, writtenIn)) : refused
      }
    }
  }
}
