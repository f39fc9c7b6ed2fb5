import {FerryError, RegistryError} from '../../errors.js'
import {credentialVerdict, registryUnreachable} from '../errors.js'
import {formatPullLimit, spendsPull, type PullQuota, type PullQuotas} from '../pull-quota.js'
import type {RegistryStops} from '../registry-stops.js'
import {drain, type Layer} from './exchange.js'

/** What a run holds about its registries across requests (`RegistryStops`, `PullQuotas`). */
export interface RegistryRunState {
  stops: RegistryStops
  quotas: PullQuotas
  /** Pulls left unspent (--pull-reserve). */
  reserve: number
}

/**
 * The outermost layer: a request to a registry the run has stopped ends at once with the stop's
 * line, before a token, a pause or a retry is spent on it. A request that, after its own retries,
 * found the registry unreachable (plain HTTP, refused, no such host, its certificate) stops the
 * registry for the run: its other requests end with that line instead of each retrying it.
 */
export function stoppedRegistry(state: RegistryRunState, registry: string, login?: string): Layer {
  const credentials = credentialsKey(registry, login)
  return (next) => async (outgoing) => {
    const stopped = state.stops.check(registry, outgoing.request) ?? state.stops.check(credentials, outgoing.request)
    if (stopped) throw stopped
    try {
      return await next(outgoing)
    } catch (error) {
      // Final for the jobs too: retrying a job would meet the stop at once.
      if (registryUnreachable(error)) throw state.stops.stop(registry, new FerryError(error.code, error.message, {cause: error}), 'requests')
      const verdict = credentialVerdict(error)
      if (verdict) throw state.stops.stop(credentials, new RegistryError('UNAUTHORIZED', verdict, {status: 401, cause: error}), 'requests')
      throw error
    }
  }
}

/**
 * Under auth, so before every attempt it sends (a retry's, a renewal's): a request already past the
 * outer check when another request stopped its registry or its credentials ends with that line
 * instead of sending them again (a wrong password is sent at most once more per request in flight).
 */
export function stoppedBeforeAttempt(state: RegistryRunState, registry: string, login?: string): Layer {
  const credentials = credentialsKey(registry, login)
  return (next) => async (outgoing) => {
    const stopped = state.stops.check(registry, outgoing.request) ?? state.stops.check(credentials, outgoing.request)
    if (stopped) throw stopped
    return next(outgoing)
  }
}

/**
 * The client's credentials are stopped apart from the registry: another entry (a namespace's own
 * account) may still be right.
 */
function credentialsKey(registry: string, login?: string): string {
  return `${registry} with the login of ${login ?? 'no entry'}`
}

/**
 * Between the attempt and auth, so it sees every attempt's answer as sent (a 429 included): each
 * answer's pull count is recorded; a manifest GET is admitted against the quota first (a standing
 * mirror waits for the window there); and a 429 without Retry-After while no pulls are left is the
 * spent quota itself: the registry's pulls stop (one-shot) or wait for the window (standing),
 * instead of a retry at the job's pace that the registry would refuse again.
 */
export function pullQuota(state: RegistryRunState, registry: string): Layer {
  return (next) => async (outgoing) => {
    const pull = spendsPull(outgoing.request)
    for (;;) {
      const admission = pull ? await state.quotas.admit(registry, state.reserve, outgoing.request.signal) : undefined
      if (admission?.kind === 'spent') throw spent(state, registry, admission.quota)
      const sentAt = Date.now()
      let answer
      try {
        answer = await next(outgoing)
      } catch (error) {
        admission?.release(undefined)
        throw error
      }
      state.quotas.observe(registry, answer.headers, sentAt)
      admission?.release(answer.status, answer.headers)
      if (answer.status !== 429 || answer.headers['retry-after'] !== undefined || outgoing.request.expect.includes(429)) return answer
      const quota = state.quotas.refused(registry)
      if (!quota) return answer
      if (state.quotas.whenSpent === 'stop') {
        await drain(answer.body)
        throw spent(state, registry, quota)
      }
      // A standing mirror: the next admission waits out the window, then this GET goes again.
      if (!pull) return answer
      await drain(answer.body)
    }
  }
}

function spent(state: RegistryRunState, registry: string, quota: PullQuota): FerryError {
  return state.stops.stop(registry, new FerryError('PULL_LIMIT', formatPullLimit(quota, state.reserve)), 'pulls')
}
