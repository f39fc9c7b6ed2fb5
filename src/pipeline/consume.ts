import {isRetryableError, withRetry} from '../retry.js'

export interface RoutineOptions<J, R> {
  routines: number
  /** Attempts after the first for a job that failed with a retryable error. */
  retry: number
  work: (job: J, attempt: number, signal: AbortSignal | undefined) => Promise<R>
  /** Turns a failure into a result: a routine never dies of one job's error. */
  failed: (job: J, error: unknown, attempts: number) => R
  onResult: (result: R) => void
  signal?: AbortSignal
  /** Graceful stop: no job is taken, and no attempt started, once this is aborted. */
  drain?: AbortSignal
  /** Base of the backoff between attempts of one job; tests shorten it. */
  retryBaseMs?: number
  /** Told before each retry's delay (for --verbose and progress displays). */
  onRetry?: (job: J, error: unknown, attempt: number, delayMs: number) => void
}

/**
 * N routines draining one source of jobs. Each job is retried whole while its error is
 * retryable (a DENIED or an unsupported manifest will not get better by trying again), with
 * backoff that honours a registry's Retry-After.
 */
export async function runRoutines<J, R>(source: AsyncIterable<J>, options: RoutineOptions<J, R>): Promise<void> {
  const routine = async () => {
    for await (const job of source) {
      if (options.signal?.aborted || options.drain?.aborted) break
      options.onResult(await attemptJob(job, options))
    }
  }
  await Promise.all(Array.from({length: Math.max(1, options.routines)}, routine))
}

async function attemptJob<J, R>(job: J, options: RoutineOptions<J, R>): Promise<R> {
  let attempts = 0
  try {
    return await withRetry(
      (attempt) => {
        attempts = attempt
        return options.work(job, attempt, options.signal)
      },
      {
        retries: options.retry,
        backoff: {baseMs: options.retryBaseMs ?? 1000},
        // A graceful stop starts no new attempt; the job is reported with the failure it had.
        retryable: (error) => isRetryable(error) && !options.drain?.aborted,
        signal: options.signal,
        onRetry: (error, attempt, delay) => options.onRetry?.(job, error, attempt, delay),
      },
    )
  } catch (error) {
    return options.failed(job, error, attempts)
  }
}

/** Errors ferry does not know (a bug, a socket error it did not classify) get another chance. */
export const isRetryable = isRetryableError
