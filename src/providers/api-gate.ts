import type {RequestLimiter} from '../registry/limiter.js'
import {withRetry} from '../retry.js'

export interface GateOptions {
  limiter: RequestLimiter
  /** Attempts in all (the first one counts), for failures `retryable` accepts. */
  attempts: number
  retryBaseMs: number
  retryable: (error: unknown) => boolean
  /** ferry's error for the SDK's last failure; the SDK's own is never passed on (it may hold signed URLs or headers). */
  fail: (error: unknown) => unknown
  signal?: AbortSignal
}

/**
 * One cloud API call behind the run's gate: every attempt passes the limiter, a throttled or
 * transient failure is tried again with backoff, and the last failure becomes ferry's error. An
 * abort stays the abort it is.
 */
export async function gatedCall<T>(call: () => Promise<T>, options: GateOptions): Promise<T> {
  const {signal} = options
  try {
    return await withRetry(
      () => {
        signal?.throwIfAborted()
        return options.limiter.schedule(call)
      },
      {retries: options.attempts - 1, backoff: {baseMs: options.retryBaseMs, maxMs: 10_000}, retryable: options.retryable, signal},
    )
  } catch (error) {
    if (signal?.aborted && error === signal.reason) throw error
    throw options.fail(error)
  }
}
