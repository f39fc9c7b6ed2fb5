/**
 * A registry's pull limit as it states it: Docker Hub (and registries copying it) answers every
 * manifest request with `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600` (a
 * count and the window in seconds). A manifest GET spends one pull; a HEAD spends none. The run
 * keeps one record per registry (`PullQuotas`) and stops pulling, or waits for the window, when
 * the pulls left reach the reserve, rather than spending requests on 429s.
 */
import {sleep} from '../retry.js'
import type {PullQuota} from '../pull-quota.js'

/** The longest window believed: Docker Hub's is 6 h. */
export const MAX_WINDOW_SECONDS = 24 * 60 * 60

/** One header: `25;w=60` → 25 in a 60 s window; `25` → 25 (window unknown). Anything else: undefined. Pure. */
export function parseRateLimit(header: string | undefined): {count: number; windowSeconds?: number} | undefined {
  if (header === undefined) return undefined
  // Several policies may be listed (`100;w=21600, 25;w=60`); the first one is the one that binds.
  const [first] = header.split(',')
  const match = /^\s*(\d{1,12})\s*(?:;\s*w\s*=\s*(\d{1,12})\s*)?(?:;.*)?$/i.exec(first ?? '')
  if (!match) return undefined
  // A registry's word, and a standing mirror sleeps on it: a window past a day is read as a day.
  const windowSeconds = match[2] !== undefined ? Math.min(Number(match[2]), MAX_WINDOW_SECONDS) : undefined
  return {count: Number(match[1]), ...(windowSeconds ? {windowSeconds} : {})}
}

/** The two headers of one answer; undefined when it carries no count of pulls left. Pure. */
export function readPullQuota(headers: Record<string, string>): {remaining: number; limit?: number; windowSeconds?: number} | undefined {
  const remaining = parseRateLimit(headers['ratelimit-remaining'])
  if (!remaining) return undefined
  const limit = parseRateLimit(headers['ratelimit-limit'])
  const windowSeconds = remaining.windowSeconds ?? limit?.windowSeconds
  return {remaining: remaining.count, ...(limit ? {limit: limit.count} : {}), ...(windowSeconds ? {windowSeconds} : {})}
}

/** A request that spends a pull: a GET of a manifest (by tag or digest). HEAD is free. Pure. */
export function spendsPull(request: {method: string; path: string}): boolean {
  if (request.method !== 'GET') return false
  const path = request.path.split('?')[0]!
  return /^(?:https?:\/\/[^/]+)?\/v2\/.+\/manifests\/[^/]+$/.test(path)
}

/**
 * The one line a spent quota ends a registry's jobs with: the registry, its limit, by when the
 * window has passed, and what to do. Pure.
 */
export function formatPullLimit(quota: PullQuota, reserve: number): string {
  const per = quota.windowSeconds ? ` per ${formatWindow(quota.windowSeconds)}` : ''
  const limit = quota.limit !== undefined ? `${quota.remaining} of ${quota.limit} pulls${per} left` : `${quota.remaining} pulls left`
  const kept = reserve > 0 ? `, ${reserve} kept in reserve (--pull-reserve)` : ''
  const after = quota.resetsBy ? ` after ${quota.resetsBy.replace(/\.\d{3}Z$/, 'Z')}` : ' after the window has passed'
  return (
    `registry ${quota.registry}: pull limit reached (${limit}${kept}); no more manifests are pulled from it in this run. ` +
    `Log in to ${quota.registry} (give credentials for it) for a higher limit, or run again${after}`
  )
}

function formatWindow(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`
  if (seconds % 60 === 0 && seconds >= 600) return `${seconds / 60} min`
  return `${seconds} s`
}

export type {PullQuota}

/** Before a manifest GET: go (and call `release` with the answer's headers), or the quota is spent. */
export type Admission = {kind: 'go'; release: (status: number | undefined, headers?: Record<string, string>) => void} | {kind: 'spent'; quota: PullQuota}

/** Resolves when one of the flight's GETs is answered; rejects when `signal` aborts first. */
function answered(flight: Flight, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => reject(signal?.reason)
    signal?.addEventListener('abort', onAbort, {once: true})
    flight.waiting.push(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    })
  })
}

/** A window's length when the registry does not say: Docker Hub's six hours. */
const DEFAULT_WINDOW_SECONDS = 6 * 3600

interface Reading {
  quota: PullQuota
  /** When the reading in `quota` arrived (ms); a reading from a request sent before it may be stale. */
  answeredAt: number
}

/** Manifest GETs sent and not yet answered, per registry, and the admissions waiting for one. */
interface Flight {
  count: number
  waiting: Array<() => void>
}

/**
 * Every registry's pull quota for a run (or for a standing mirror's runs together: the limit is
 * the account's, whichever job spends it). `whenSpent`:
 * 'stop' for a one-shot run (the caller ends the registry's jobs), 'wait' for a standing mirror
 * (an admission sleeps until the window has passed). GETs in flight count against what is left,
 * so routines never overshoot the reserve together.
 */
export class PullQuotas {
  private readonly records = new Map<string, Reading>()
  private readonly flights = new Map<string, Flight>()

  constructor(
    private readonly options: {
      whenSpent: 'stop' | 'wait'
      onChange?: (quota: PullQuota) => void
      now?: () => number
    },
  ) {}

  get whenSpent(): 'stop' | 'wait' {
    return this.options.whenSpent
  }

  private now(): number {
    return this.options.now?.() ?? Date.now()
  }

  /** What is known per registry, for the summary, the report and /metrics. */
  snapshot(): PullQuota[] {
    return [...this.records.values()].map((record) => ({...record.quota}))
  }

  /**
   * A manifest GET to `registry` may go (counted in flight until released), or the quota is spent
   * down to `reserve` (a standing mirror's runs share one record, each with its own reserve).
   */
  async admit(registry: string, reserve: number, signal?: AbortSignal): Promise<Admission> {
    for (;;) {
      const record = this.records.get(registry)
      if (!record) return this.go(registry)
      const waitUntil = record.quota.resetsBy ? Date.parse(record.quota.resetsBy) : undefined
      if (waitUntil !== undefined && this.options.whenSpent === 'wait') {
        if (this.now() < waitUntil) {
          await sleep(waitUntil - this.now(), signal)
          continue
        }
        // The window has passed: what is left is unknown until the next answer says.
        this.records.delete(registry)
        continue
      }
      if (record.quota.stoppedAt) return {kind: 'spent', quota: {...record.quota}}
      const flight = this.flight(registry)
      if (record.quota.remaining - flight.count > reserve) return this.go(registry)
      if (flight.count > 0) {
        await answered(flight, signal)
        continue
      }
      const quota = this.spend(record)
      // A standing mirror waits for the window at the top of the loop.
      if (this.options.whenSpent === 'stop') return {kind: 'spent', quota}
    }
  }

  /**
   * An answer from `registry` (a HEAD, a GET, any status): its count, if it has one. `sentAt`:
   * when the request left, so an answer overtaken by a later one does not raise the count.
   */
  observe(registry: string, headers: Record<string, string>, sentAt: number): void {
    const reading = readPullQuota(headers)
    if (!reading) return
    const record = this.records.get(registry)
    if (record?.quota.stoppedAt) return
    const fresh = !record || sentAt >= record.answeredAt
    const remaining = fresh ? reading.remaining : Math.min(record.quota.remaining, reading.remaining)
    const quota: PullQuota = {
      registry,
      ...(reading.limit !== undefined ? {limit: reading.limit} : record?.quota.limit !== undefined ? {limit: record.quota.limit} : {}),
      remaining,
      ...((reading.windowSeconds ?? record?.quota.windowSeconds) ? {windowSeconds: reading.windowSeconds ?? record?.quota.windowSeconds} : {}),
    }
    if (record) {
      record.quota = quota
      if (fresh) record.answeredAt = this.now()
    } else this.records.set(registry, {quota, answeredAt: this.now()})
    this.options.onChange?.({...quota})
  }

  /** A 429 without Retry-After: when the record says no pulls are left, the quota is spent (else undefined). */
  refused(registry: string): PullQuota | undefined {
    const record = this.records.get(registry)
    if (!record || record.quota.remaining > 0) return undefined
    return record.quota.stoppedAt ? {...record.quota} : this.spend(record)
  }

  private spend(record: Reading): PullQuota {
    const now = this.now()
    const windowMs = (record.quota.windowSeconds ?? DEFAULT_WINDOW_SECONDS) * 1000
    record.quota = {...record.quota, stoppedAt: new Date(now).toISOString(), resetsBy: new Date(now + windowMs).toISOString()}
    this.options.onChange?.({...record.quota})
    return {...record.quota}
  }

  private flight(registry: string): Flight {
    let flight = this.flights.get(registry)
    if (!flight) this.flights.set(registry, (flight = {count: 0, waiting: []}))
    return flight
  }

  private go(registry: string): Admission {
    const flight = this.flight(registry)
    flight.count++
    let released = false
    return {
      kind: 'go',
      release: (status, headers = {}) => {
        if (released) return
        released = true
        flight.count--
        const record = this.records.get(registry)
        // A registry that counts on some answers but not this one: the pull was spent all the same.
        if (record && status === 200 && !readPullQuota(headers) && !record.quota.stoppedAt) record.quota.remaining = Math.max(0, record.quota.remaining - 1)
        for (const wake of flight.waiting.splice(0)) wake()
      },
    }
  }
}
