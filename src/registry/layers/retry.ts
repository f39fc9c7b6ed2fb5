import {isRetryableError, withRetry} from '../../retry.js'
import {replayable, type RegistryRequest} from '../request.js'
import type {Layer} from './exchange.js'

/**
 * Failures of an attempt itself (a reset, a timeout, a 5xx or 429 answer), marked where they are
 * typed. Anything else that comes up through the layers (the token server's refusal, a failure
 * the token fetch already retried, an auth layer's verdict) is final for the request.
 */
const attemptFailures = new WeakSet<object>()

/** Marks `error` as the failure of one attempt, which the retry layer may try again. */
export function attemptFailure<E extends object>(error: E): E {
  attemptFailures.add(error)
  return error
}

/**
 * May this failure of `request` be tried again: an attempt's own failure that says it is
 * retryable, of a request that is safe to repeat and whose body can be sent twice.
 */
export function retryableFailure(request: Pick<RegistryRequest, 'idempotent' | 'body'>, error: unknown): boolean {
  if (!request.idempotent || !replayable(request)) return false
  return typeof error === 'object' && error !== null && attemptFailures.has(error) && isRetryableError(error)
}

/**
 * The outermost layer: an idempotent request that failed on the way (below HTTP, or with a 5xx
 * or 429) is sent again, up to `retries` more times, with backoff that honours Retry-After; a
 * Retry-After past the cap ends it. Each retry passes the layers below again: a fresh header
 * from auth, the pause and the limiter; each is the same exchange (`outgoing`), so the auth layer
 * counts its renewals across them.
 */
export function retryRequests(retries: number): Layer {
  return (next) => (outgoing) =>
    withRetry(() => next(outgoing), {
      retries,
      retryable: (error) => retryableFailure(outgoing.request, error),
      signal: outgoing.request.signal,
    })
}
