import {parseRetryAfter, sleep} from '../../retry.js'
import type {RequestLimiter} from '../limiter.js'
import type {Answer, Layer} from './exchange.js'

/** A 429 with no Retry-After still holds the registry this long. */
const DEFAULT_PAUSE_MS = 1000

/**
 * How long an answer holds the registry's requests: a 429 the request did not expect, for what
 * the registry asked (Retry-After) or a second; undefined for any other answer. Pure.
 */
export function pauseAfter(answer: Pick<Answer, 'status' | 'headers'>, expect: readonly number[], now = Date.now()): number | undefined {
  if (answer.status !== 429 || expect.includes(429)) return undefined
  return parseRetryAfter(answer.headers['retry-after'], now) ?? DEFAULT_PAUSE_MS
}

/** A 429 holds one registry's requests until then; other registries keep going. */
export class RegistryPause {
  private until = 0

  hold(ms: number): void {
    this.until = Math.max(this.until, Date.now() + ms)
  }

  async wait(signal?: AbortSignal): Promise<void> {
    while (Date.now() < this.until) await sleep(this.until - Date.now(), signal)
  }
}

/**
 * The innermost layer: every attempt (a retry, a renewal's second try) waits out the registry's
 * pause and then passes the run's limiter, so --qps counts each one. `onWait` is told the time
 * an attempt waited for both.
 */
export function rateLimit(limiter: RequestLimiter, pause: RegistryPause, onWait?: (ms: number) => void): Layer {
  return (next) => async (outgoing) => {
    const queued = performance.now()
    await pause.wait(outgoing.request.signal)
    const answer = await limiter.schedule(() => {
      const waited = performance.now() - queued
      if (waited >= 1) onWait?.(waited)
      return next(outgoing)
    })
    const ms = pauseAfter(answer, outgoing.request.expect)
    if (ms !== undefined) pause.hold(ms)
    return answer
  }
}
