import {networkError} from '../errors.js'
import type {Layer} from './exchange.js'
import {attemptFailure} from './retry.js'

/** Watches each attempt (metrics); never changes one. */
export interface AttemptObserver {
  /** One attempt answered (status), or failed below HTTP (status 0). */
  onRequest?(registry: string, method: string, status: number): void
}

/**
 * Around the rate-limited transport: each attempt is counted for the observer, and a failure
 * below HTTP (including an abort while paused) becomes a typed error that the retry layer may
 * try again. `writtenIn` (RegistryAccess) says where to fix an untrusted certificate.
 */
export function attemptOutcome(registry: string, observer?: AttemptObserver, writtenIn?: string): Layer {
  return (next) => async (outgoing) => {
    const {request} = outgoing
    try {
      const answer = await next(outgoing)
      observer?.onRequest?.(registry, request.method, answer.status)
      return answer
    } catch (error) {
      observer?.onRequest?.(registry, request.method, 0)
      throw attemptFailure(networkError(error, request.what, request.signal, writtenIn))
    }
  }
}
