import {isRetryableError, withRetry} from '../retry.js'

export interface RoutineOptions<J> {
  routines: number
  /** Does the whole of one job; a routine never dies of one job's error, so this must not reject. */
  work: (job: J) => Promise<void>
  signal?: AbortSignal
  /** Graceful stop: no job is taken once this is aborted. */
  drain?: AbortSignal
}

/** N routines draining one source of jobs. */
export async function runRoutines<J>(source: AsyncIterable<J>, options: RoutineOptions<J>): Promise<void> {
  const routine = async () => {
    for await (const job of source) {
      if (options.signal?.aborted || options.drain?.aborted) break
      await options.work(job)
    }
  }
  await Promise.all(Array.from({length: Math.max(1, options.routines)}, routine))
}

export interface AttemptOptions<R> {
  /** Attempts after the first for a job that failed with a retryable error. */
  retry: number
  work: (attempt: number, signal: AbortSignal | undefined) => Promise<R>
  /** Turns a failure into a result. */
  failed: (error: unknown, attempts: number) => R
  signal?: AbortSignal
  /** Graceful stop: no attempt is started once this is aborted. */
  drain?: AbortSignal
  /** Base of the backoff between attempts of one job; tests shorten it. */
  retryBaseMs?: number
  /** Told before each retry's delay (for --verbose and progress displays). */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
}

/**
 * Every attempt of one job. A job is retried while its error is retryable (a DENIED or an
 * unsupported manifest will not get better by trying again), with backoff that honours a
 * registry's Retry-After. Never rejects: the last failure becomes the result.
 */
export async function attemptJob<R>(options: AttemptOptions<R>): Promise<R> {
  let attempts = 0
  try {
    return await withRetry(
      (attempt) => {
        attempts = attempt
        return options.work(attempt, options.signal)
      },
      {
        retries: options.retry,
        backoff: {baseMs: options.retryBaseMs ?? 1000},
        // A graceful stop starts no new attempt; the job is reported with the failure it had.
        retryable: (error) => isRetryable(error) && !options.drain?.aborted,
        signal: options.signal,
        onRetry: options.onRetry,
      },
    )
  } catch (error) {
    return options.failed(error, attempts)
  }
}

/** Errors ferry does not know (a bug, a socket error it did not classify) get another chance. */
export const isRetryable = isRetryableError
