/**
 * One delay policy shared by the two levels of retry: a request retried inside the registry
 * client, and a whole job retried by the pipeline. Pure, so it is tested with a table.
 */
export interface BackoffOptions {
  /** Delay before the first retry. */
  baseMs?: number
  /** No single wait is longer than this, whatever the attempt number. */
  maxMs?: number
  /** What the server asked for (Retry-After); wins over the computed delay when longer. */
  retryAfterMs?: number
  /** A server asking for more than this is refused: waiting that long is worse than failing. */
  retryAfterCapMs?: number
  /** 0..1, injected so tests are deterministic; jitter spreads retries of many routines apart. */
  random?: number
}

/** Milliseconds to wait before retry number `attempt` (1-based); -1 means do not retry. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500
  const max = options.maxMs ?? 30_000
  const cap = options.retryAfterCapMs ?? 5 * 60_000
  if (options.retryAfterMs !== undefined && options.retryAfterMs > cap) return -1
  const exponential = Math.min(max, base * 2 ** Math.max(0, attempt - 1))
  // Full jitter over the upper half keeps the ordering of attempts while spreading routines.
  const jittered = exponential / 2 + (exponential / 2) * (options.random ?? Math.random())
  return Math.round(Math.max(jittered, options.retryAfterMs ?? 0))
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, {once: true})
  })
}

/** How one loop retries: every loop in ferry (request, token, job, provider call) is one of these. */
export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number
  /** Backoff of the delays (baseMs, maxMs, retryAfterCapMs). */
  backoff?: Omit<BackoffOptions, 'retryAfterMs' | 'random'>
  /**
   * May this failure of attempt `attempt` (1-based) be tried again? Default: `isRetryableError`.
   * Told the attempt so that some failures can have fewer retries than `retries`, the ceiling.
   */
  retryable?: (error: unknown, attempt: number) => boolean
  /** What the server asked for with this failure (Retry-After). Default: the error's `retryAfterMs`. */
  retryAfterMs?: (error: unknown) => number | undefined
  /** Aborts the waits; an aborted signal ends the loop with the last failure. */
  signal?: AbortSignal
  /** Told before each wait: which attempt failed, why, and the delay. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
  /** 0..1 for the jitter; tests pin it. */
  random?: () => number
}

/**
 * The wait before trying again after attempt `attempt` (1-based) failed with `error`, or
 * undefined: give up and surface the failure. The one meaning of "give up" (a non-retryable error,
 * attempts spent, an abort, a Retry-After above the cap) for every loop. Pure.
 */
export function retryDelay(error: unknown, attempt: number, policy: RetryPolicy): number | undefined {
  if (attempt > policy.retries || policy.signal?.aborted) return undefined
  if (!(policy.retryable ?? isRetryableError)(error, attempt)) return undefined
  const retryAfterMs = (policy.retryAfterMs ?? errorRetryAfter)(error)
  const delay = backoffDelay(attempt, {...policy.backoff, retryAfterMs, random: policy.random?.()})
  return delay < 0 ? undefined : delay
}

/** Runs `operation` until it succeeds or `retryDelay` gives up; the last failure is thrown. */
export async function withRetry<T>(operation: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt)
    } catch (error) {
      const delay = retryDelay(error, attempt, policy)
      if (delay === undefined) throw error
      policy.onRetry?.(error, attempt, delay)
      try {
        await sleep(delay, policy.signal)
      } catch {
        // Aborted while waiting: the failure that led here says more than the abort.
        throw error
      }
    }
  }
}

/**
 * Errors that say whether they are worth retrying carry `retryable` (FerryError, RegistryError);
 * anything else (a bug, a socket error nobody classified) gets another chance.
 */
export function isRetryableError(error: unknown): boolean {
  const flag = (error as {retryable?: unknown} | null)?.retryable
  return typeof flag === 'boolean' ? flag : true
}

function errorRetryAfter(error: unknown): number | undefined {
  const value = (error as {retryAfterMs?: unknown} | null)?.retryAfterMs
  return typeof value === 'number' ? value : undefined
}
