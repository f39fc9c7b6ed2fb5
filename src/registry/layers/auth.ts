import {RegistryError} from '../../errors.js'
import {replayable} from '../request.js'
import {drain, type Layer, type Outgoing} from './exchange.js'

/** The authenticator as the auth layer sees it (`Authenticator` in ../auth.ts). */
export interface AuthState {
  /** The header for these scopes: a cached token, a fresh one, basic, or none. */
  authorization(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined>
  /** A 401 came back for `sent`: true when sending again can succeed. */
  unauthorized(header: string | undefined, scopes: readonly string[], sent: string | undefined): boolean
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
 * refuse it as `withheld` (the 401 to an anonymous token, once renewals are spent, when the
 * credentials were kept back), or `pass` it up. A 401 is challenged even when expected. Pure.
 */
export function authStep(
  status: number,
  {sameOrigin, renewals, expected, withheld}: {sameOrigin: boolean; renewals: number; expected: boolean; withheld: boolean},
): 'challenge' | 'withheld' | 'pass' {
  if (status !== 401 || !sameOrigin) return 'pass'
  if (renewals < RENEWALS) return 'challenge'
  return !expected && withheld ? 'withheld' : 'pass'
}

/**
 * What a refusal refused, and why credentials were kept back when they were; where they were
 * written (RegistryAccess.writtenIn) when the caller said so. Pure.
 */
export function refusedWhat(auth: Pick<AuthState, 'withheld' | 'anonymous'>, registry: string, writtenIn?: string): string {
  const given = `the credentials given for ${registry}${writtenIn ? ` (${writtenIn})` : ''}`
  if (auth.withheld) return `anonymous access: ${given} were not sent, as ${auth.withheld}`
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
    return async (outgoing) => {
      const {request} = outgoing
      let renewals = renewalsOf.get(outgoing) ?? 0
      for (;;) {
        const authorization = outgoing.sameOrigin ? await auth.authorization(request.scopes, request.signal) : undefined
        const answer = await next({...outgoing, authorization})
        const step = authStep(answer.status, {
          sameOrigin: outgoing.sameOrigin,
          renewals,
          expected: request.expect.includes(answer.status),
          withheld: Boolean(auth.withheld),
        })
        if (step === 'pass') return answer
        await drain(answer.body)
        if (step === 'withheld') {
          // An anonymous token that does not do: say why the credentials stayed home.
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
        throw new RegistryError('UNAUTHORIZED', `${request.what}: registry ${registry} refused ${refusedWhat(auth, registry, writtenIn)}${refusal}`, {
          status: 401,
        })
      }
    }
  }
}
