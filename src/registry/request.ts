import type http from 'node:http'
import type {Readable} from 'node:stream'

import type {BodyLimit} from './body-limits.js'

export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE'
  /** `/v2/…` on this registry, or an absolute URL a registry handed us (upload Location). */
  path: string
  /** Token scopes the request needs (`repository:NAME:pull,push`). */
  scopes: readonly string[]
  headers?: Record<string, string>
  body?: Buffer | Readable
  responseType?: 'buffer' | 'stream'
  /** Statuses that are answers rather than errors. */
  expect: readonly number[]
  /** Safe to send again after a 5xx, 429 or reset. A stream body never is. */
  idempotent: boolean
  /** Names the operation in errors, e.g. `GET manifest team/app:1.0`. */
  what: string
  /**
   * The most a success answer read into memory may hold (the default: 1 MiB, for answers read
   * only for their headers). Error answers are cut at 64 KiB whatever this says.
   */
  bodyLimit?: BodyLimit
  signal?: AbortSignal
}

export interface RegistryResponse<D = Buffer | Readable | undefined> {
  status: number
  headers: Record<string, string>
  data: D
  /** Final URL after redirects. */
  url: string
}

/** A body can be sent again only when it is held in memory; a stream is gone once sent. Pure. */
export function replayable(request: Pick<RegistryRequest, 'body'>): boolean {
  return !request.body || Buffer.isBuffer(request.body)
}

/** Response headers as lower-case names with string values (arrays joined). Pure. */
export function plainHeaders(headers: http.IncomingHttpHeaders | Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}
