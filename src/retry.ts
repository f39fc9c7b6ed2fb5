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
