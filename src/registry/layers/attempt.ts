import {networkError} from '../errors.js'
import type {Layer} from './exchange.js'
import {attemptFailure} from './retry.js'

/** Watches each attempt (metrics); never changes one. */
export interface AttemptObserver {
  /** One attempt answered (status), or failed below HTTP (status 0); `detail` has its raw URL (credentials and all) and time. */
  onRequest?(registry: string, method: string, status: number, detail?: AttemptDetail): void
}

export interface AttemptDetail {
  /** As sent: may carry signed query values, so it is redacted before it is printed. */
  url: string
  /** From the attempt's start (after the rate limit) to its answer's headers, or its failure. */
  ms: number
}

/**
 * Around the rate-limited transport: each attempt is counted for the observer, and a failure
 * below HTTP (including an abort while paused) becomes a typed error that the retry layer may
 * try again. `writtenIn` (RegistryAccess) says where to fix an untrusted certificate.
 */
export function attemptOutcome(registry: string, observer?: AttemptObserver, writtenIn?: string): Layer {
  return (next) => async (outgoing) => {
    const {request} = outgoing
    const started = performance.now()
    const detail = () => ({url: outgoing.url, ms: Math.round(performance.now() - started)})
    try {
      const answer = await next(outgoing)
      observer?.onRequest?.(registry, request.method, answer.status, detail())
      return answer
    } catch (error) {
      observer?.onRequest?.(registry, request.method, 0, detail())
      // Only an attempt at the registry's own origin speaks for the registry (not a realm or storage host).
      const target = outgoing.sameOrigin ? {registry, url: outgoing.url} : undefined
      throw attemptFailure(networkError(error, request.what, request.signal, writtenIn, target))
    }
  }
}
