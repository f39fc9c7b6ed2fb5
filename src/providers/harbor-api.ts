import http from 'node:http'
import https from 'node:https'
import tls from 'node:tls'

import axios, {type AxiosInstance, type AxiosResponse} from 'axios'

import type {RegistryAccess} from '../registry/client.js'
import {abortError, FerryError} from '../errors.js'
import {describeSize, LISTING_PAGE_LIMIT} from '../registry/body-limits.js'
import {networkError} from '../registry/errors.js'
import {PageGuard} from '../registry/page-guard.js'
import {ProxyAgents} from '../registry/proxy-agents.js'
import type {RequestLimiter} from '../registry/limiter.js'
import {plainHeaders} from '../registry/request.js'
import {parseRetryAfter, withRetry} from '../retry.js'
import {hasNextPage, parseHarborError, totalCount} from './harbor-model.js'

/** Statuses worth asking again: throttling, and a gateway or core that is briefly down. */
const RETRYABLE = new Set([429, 500, 502, 503, 504])

export interface HarborRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'DELETE'
  /** Path under /api/v2.0, already encoded. */
  path: string
  query?: Record<string, string | number>
  headers?: Record<string, string>
  body?: unknown
  /** Statuses that are answers rather than errors. */
  expect: readonly number[]
  /** Names the operation in messages: `list projects`, `create project team`. */
  what: string
  /** What the account needs when Harbor answers 403, for the message. */
  permission?: string
  signal?: AbortSignal
}

export interface HarborResponse<T> {
  status: number
  data: T
  headers: Record<string, string>
}

export interface HarborApiOptions {
  /** host[:port] of the Harbor instance; the API and the registry share it. */
  host: string
  /** The access given for the host: account, plain HTTP, TLS settings (and where they were written). */
  access: RegistryAccess
  limiter: RequestLimiter
  /** Attempts after the first for throttled or failing requests. */
  retries?: number
  timeoutMs?: number
}

/**
 * The Harbor v2 REST API (`/api/v2.0`) with basic auth. Every attempt passes the run's limiter,
 * so --qps covers API calls too; throttling and 5xx answers are retried with backoff, honouring
 * Retry-After. Every call is safe to repeat: reads, a project creation whose repeat answers 409, and
 * a tag deletion whose repeat answers 404.
 */
export class HarborApi {
  readonly host: string
  readonly baseUrl: string
  readonly anonymous: boolean
  private readonly http: AxiosInstance
  private readonly limiter: RequestLimiter
  private readonly retries: number
  private readonly authorization?: string
  private readonly writtenIn?: string

  constructor(options: HarborApiOptions) {
    this.host = options.host
    this.baseUrl = `${options.access.insecure ? 'http' : 'https'}://${options.host}/api/v2.0`
    this.limiter = options.limiter
    this.retries = options.retries ?? 4
    const {username, password} = options.access
    this.anonymous = !username
    this.writtenIn = options.access.writtenIn
    if (username) this.authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`
    const tlsOptions = {
      rejectUnauthorized: !options.access.skipTlsVerify,
      // Passing `ca` replaces Node's trust store, so the public roots go in with the extra CA.
      ...(options.access.ca ? {ca: [...tls.rootCertificates, options.access.ca]} : {}),
    }
    // The registry client's proxy agents: axios's own proxy support cannot tunnel HTTPS.
    const proxied = new ProxyAgents(() => tlsOptions).for(new URL(this.baseUrl))
    this.http = axios.create({
      httpAgent: proxied ?? new http.Agent({keepAlive: true}),
      httpsAgent: proxied ?? new https.Agent({keepAlive: true, ...tlsOptions}),
      headers: {'User-Agent': 'ferry', Accept: 'application/json'},
      proxy: false,
      maxRedirects: 0,
      timeout: options.timeoutMs ?? 60_000,
      responseType: 'arraybuffer',
      // Counted while reading (axios destroys the stream past it): a page of 100 items is a few
      // hundred KB, and a body that never ends must not grow memory.
      maxContentLength: LISTING_PAGE_LIMIT,
      validateStatus: () => true,
    })
  }

  async request<T = unknown>(request: HarborRequest): Promise<HarborResponse<T>> {
    // The last attempt that reached no server, and why: to say at the end where it went.
    let unreachable: {failure: FerryError; cause: unknown} | undefined
    // What the last answer asked for (Retry-After).
    let retryAfterMs: number | undefined
    let response: AxiosResponse<ArrayBuffer>
    try {
      response = await withRetry(
        async (attempt) => {
          retryAfterMs = undefined
          if (request.signal?.aborted) throw abortError()
          let response: AxiosResponse<ArrayBuffer>
          try {
            response = await this.attempt(request)
          } catch (error) {
            if (isTooLarge(error)) {
              throw new FerryError(
                'BODY_TOO_LARGE',
                `harbor: ${request.what} on ${this.host}: the answer is larger than ${describeSize(LISTING_PAGE_LIMIT)}; refused`,
              )
            }
            const failure = networkError(error, `harbor: ${request.what} on ${this.host}`, request.signal, this.writtenIn)
            unreachable = {failure, cause: error}
            throw failure
          }
          if (request.expect.includes(response.status)) return response
          retryAfterMs = parseRetryAfter(plainHeaders(response.headers)['retry-after'])
          throw this.failure(response.status, bodyText(response), request, attempt)
        },
        {
          // Attempts after the first, as `retries` always counted them.
          retries: this.retries,
          // The failures typed above say whether another attempt can help: a reset, a timeout, 429, 5xx.
          retryable: (error) => FerryError.is(error) && error.retryable,
          retryAfterMs: () => retryAfterMs,
          signal: request.signal,
        },
      )
    } catch (error) {
      // Set in the attempts above; TypeScript does not follow assignments inside a callback.
      const last = unreachable as {failure: FerryError; cause: unknown} | undefined
      if (!last || error !== last.failure || last.failure.code !== 'NETWORK') throw error
      throw new FerryError(
        'NETWORK',
        `${last.failure.message}: cannot reach ${this.baseUrl} (http or https follows insecure in the access given for ${this.host}${this.where()})`,
        {
          retryable: true,
          cause: last.cause,
        },
      )
    }
    const headers = plainHeaders(response.headers)
    // Only a success carries a body worth reading; an expected 404 or 409 is an answer by its status.
    const data = response.status < 300 ? parseBody<T>(bodyText(response), request, this.host) : (undefined as T)
    return {status: response.status, headers, data}
  }

  /** One request, through the run's limiter so that --qps counts every attempt. */
  private attempt(request: HarborRequest): Promise<AxiosResponse<ArrayBuffer>> {
    return this.limiter.schedule(() =>
      this.http.request<ArrayBuffer>({
        url: `${this.baseUrl}${request.path}`,
        method: request.method,
        params: request.query,
        data: request.body,
        headers: {
          ...request.headers,
          ...(this.authorization ? {Authorization: this.authorization} : {}),
          ...(request.body === undefined ? {} : {'Content-Type': 'application/json'}),
        },
        signal: request.signal,
      }),
    )
  }

  /**
   * Every page of a listing, as it arrives (`page`/`page_size`, ended by X-Total-Count, Link
   * or a short page).
   */
  async *pages<T>(request: Omit<HarborRequest, 'method' | 'expect'> & {pageSize: number}): AsyncGenerator<T[]> {
    let seen = 0
    // Page numbers never repeat; a server that ignores them repeats its items, or its total is never reached.
    const guard = new PageGuard(`harbor: ${request.what} on ${this.host}`)
    for (let page = 1; ; page++) {
      guard.ask()
      const response = await this.request<T[]>({
        ...request,
        method: 'GET',
        query: {...request.query, page, page_size: request.pageSize},
        expect: [200],
      })
      const items = Array.isArray(response.data) ? response.data : []
      guard.received(items)
      seen += items.length
      if (items.length > 0) yield items
      const more = hasNextPage({
        seen,
        received: items.length,
        pageSize: request.pageSize,
        total: totalCount(response.headers['x-total-count']),
        link: response.headers.link,
      })
      if (!more) return
    }
  }

  /** ' (security.yaml:4)': where the access was written, when the caller said so. */
  private where(): string {
    return this.writtenIn ? ` (${this.writtenIn})` : ''
  }

  /** `attempts`: how many were sent, the last one answered `status`. */
  private failure(status: number, body: string, request: HarborRequest, attempts: number): FerryError {
    const {code, message} = parseHarborError(status, body)
    const said = `${status} ${code}${message ? `: ${message}` : ''}`
    if (status === 401) {
      return new FerryError(
        'AUTH_FAILED',
        this.anonymous
          ? `harbor: ${this.host} refused anonymous access (${request.what}: ${said}); add username and password for ${this.host}${this.writtenIn ? ` at ${this.writtenIn}` : ''}`
          : `harbor: ${this.host} refused the credentials given for it (${request.what}: ${said}); check the username and password for ${this.host}${this.where()}`,
      )
    }
    if (status === 403) {
      const need = request.permission ? `; the account needs ${request.permission}` : ''
      return new FerryError('FORBIDDEN', `harbor: ${request.what} on ${this.host} was refused (${said})${need}`)
    }
    if (RETRYABLE.has(status)) {
      return new FerryError(
        code,
        `harbor: ${request.what} on ${this.host} still failed after ${attempts} attempts (${said})${status === 429 ? '; lower --qps' : ''}`,
        {
          retryable: true,
        },
      )
    }
    return new FerryError(code, `harbor: ${request.what} on ${this.host} failed with ${said}`)
  }
}

function bodyText(response: AxiosResponse<ArrayBuffer>): string {
  return response.data ? Buffer.from(response.data).toString('utf8') : ''
}

/** axios's refusal of a body past maxContentLength (it has no code of its own). */
function isTooLarge(error: unknown): boolean {
  return error instanceof Error && /maxContentLength/.test(error.message)
}

function parseBody<T>(text: string, request: HarborRequest, host: string): T {
  if (request.method === 'HEAD' || text.trim() === '') return undefined as T
  try {
    return JSON.parse(text) as T
  } catch {
    throw new FerryError('INVALID_RESPONSE', `harbor: ${request.what} on ${host} answered something that is not JSON; is ${host} a Harbor 2.x host?`, {
      retryable: true,
    })
  }
}
