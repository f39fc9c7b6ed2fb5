import {readFileSync} from 'node:fs'
import type http from 'node:http'
import type {Readable} from 'node:stream'
import tls from 'node:tls'

import {FerryError, RegistryError} from '../errors.js'
import {backoffDelay, sleep} from '../retry.js'
import {AddressGuard} from './address-guard.js'
import {Authenticator, type CredentialSource, type TokenRequest} from './auth.js'
import {bodyTooLarge, ERROR_BODY_LIMIT, HEADERS_ONLY_LIMIT, MANIFEST_LIMIT, TOKEN_LIMIT, type BodyLimit} from './body-limits.js'
import {registryErrorFromResponse} from './errors.js'
import {HttpTransport, type TransportResponse} from './http-transport.js'
import type {RequestLimiter} from './limiter.js'

/** How to reach one registry; filled from security.yaml by the caller. */
export interface RegistryAccess {
  username?: string
  password?: string
  /** An OAuth2 refresh token (docker config's `identitytoken`), traded for bearer tokens instead of a password. */
  identityToken?: string
  /** Credentials that a provider refreshes during the run; wins over username/password. */
  credentials?: CredentialSource
  /** image-transfer's meaning: plain HTTP. */
  insecure?: boolean
  /** HTTPS without certificate verification, explicitly asked for. */
  skipTlsVerify?: boolean
  /** Extra trusted CA, PEM. */
  ca?: string
}

export interface ClientOptions {
  /** The registry's name as users write it (docker.io), for messages. */
  registry: string
  /** host[:port] actually contacted (registry-1.docker.io for docker.io). */
  endpoint: string
  access: RegistryAccess
  limiter: RequestLimiter
  /** A request (or a blob stream) with no bytes moving for this long fails as TIMEOUT. */
  idleTimeoutMs?: number
  /** Attempts after the first for idempotent requests that fail with a retryable error. */
  requestRetries?: number
  userAgent?: string
  /** The largest manifest read; 4 MiB by default, the size the OCI distribution spec asks registries to accept. */
  maxManifestBytes?: number
  /** Called with each bearer token obtained, so whatever prints messages can redact it. */
  onSecret?: (secret: string) => void
  observer?: RegistryObserver
}

/** Watches a client's traffic (metrics); never changes it. */
export interface RegistryObserver {
  /** One request answered (status), or failed below HTTP (status 0). */
  onRequest?(registry: string, method: string, status: number): void
  /** Time a request waited for the rate limit: --qps pacing and a 429's pause. */
  onRateLimitWait?(registry: string, ms: number): void
}

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

const HEADERS_ONLY: BodyLimit = {bytes: HEADERS_ONLY_LIMIT, name: 'the limit for an answer read only for its headers'}
const TOKEN: BodyLimit = {bytes: TOKEN_LIMIT, name: 'the token limit'}

/**
 * One client per registry: keep-alive agents, the registry's TLS settings, authentication, the
 * shared limiter and request-level retries. Layers from the inside out: every attempt passes the
 * limiter, auth decides the header per attempt, retry wraps both. It knows nothing of jobs.
 */
export class RegistryClient {
  readonly registry: string
  readonly baseUrl: string
  readonly maxManifestBytes: number
  private readonly http: HttpTransport
  private readonly origin: string
  private readonly auth: Authenticator
  private readonly guard: AddressGuard
  private readonly limiter: RequestLimiter
  private readonly idleTimeoutMs: number
  private readonly requestRetries: number
  private readonly onSecret?: (secret: string) => void
  private readonly observer?: RegistryObserver
  /** A 429 holds this registry's requests until then; other registries keep going. */
  private pausedUntil = 0

  constructor(options: ClientOptions) {
    this.registry = options.registry
    const scheme = options.access.insecure ? 'http' : 'https'
    this.baseUrl = `${scheme}://${options.endpoint}`
    this.limiter = options.limiter
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000
    this.requestRetries = options.requestRetries ?? 3
    this.maxManifestBytes = options.maxManifestBytes ?? MANIFEST_LIMIT
    this.onSecret = options.onSecret
    this.observer = options.observer
    const extraCa = [options.access.ca, nodeExtraCa()].filter((pem): pem is string => Boolean(pem))
    this.origin = new URL(this.baseUrl).origin
    this.guard = new AddressGuard(new URL(this.baseUrl).hostname)
    // Passing `ca` replaces Node's trust store, so the public roots go in with the extra CA.
    this.http = new HttpTransport(
      {rejectUnauthorized: !options.access.skipTlsVerify, ...(extraCa.length > 0 ? {ca: [...tls.rootCertificates, ...extraCa]} : {})},
      options.userAgent ?? 'ferry',
    )
    this.auth = new Authenticator(
      options.access.credentials
        ? this.reporting(options.access.credentials)
        : {username: options.access.username, password: options.access.password, identityToken: options.access.identityToken},
      (request, signal) => this.fetchToken(request, signal),
      `registry ${this.registry}`,
      new URL(this.baseUrl),
    )
  }

  /** A provider's temporary passwords are secrets too: each one reaches the redactor as it is issued. */
  private reporting(source: CredentialSource): CredentialSource {
    return async () => {
      const credentials = await source()
      if (credentials.password) {
        this.onSecret?.(credentials.password)
        if (credentials.username) this.onSecret?.(`${credentials.username}:${credentials.password}`)
      }
      return credentials
    }
  }

  async send(request: RegistryRequest): Promise<RegistryResponse> {
    const url = this.resolve(request.path)
    const sameOrigin = url.startsWith(this.origin) && new URL(url).origin === this.origin
    // An upload Location the registry handed over may name any host: the guard sees it first.
    if (!sameOrigin) await this.checkHop(url, 'a URL')
    let attempt = 0
    let authRetries = 0
    for (;;) {
      const authorization = sameOrigin ? await this.auth.authorization(request.scopes, request.signal) : undefined
      let response: TransportResponse
      try {
        response = await this.attempt(url, request, authorization)
      } catch (error) {
        const failure = networkError(error, request.what, request.signal)
        if (request.idempotent && failure.retryable && attempt < this.requestRetries) {
          attempt++
          await sleep(backoffDelay(attempt), request.signal)
          continue
        }
        throw failure
      }
      const headers = plainHeaders(response.headers)
      if (response.status === 401 && sameOrigin && authRetries < 2) {
        await drain(response.body)
        const renewed = this.auth.unauthorized(headers['www-authenticate'], request.scopes, authorization)
        if (renewed && !replayable(request)) {
          // A streamed body cannot be sent twice: the caller opens a new stream and tries again,
          // with the token that the next request fetches.
          throw new RegistryError('UNAUTHORIZED', `${request.what}: token expired during the request`, {status: 401, retryable: true})
        }
        if (renewed) {
          authRetries++
          continue
        }
        const refusal = this.auth.refusal ? ` (${this.auth.refusal})` : ''
        throw new RegistryError(
          'UNAUTHORIZED',
          `${request.what}: registry ${this.registry} refused ${this.refusedWhat()}${refusal}`,
          {status: 401},
        )
      }
      if (request.expect.includes(response.status)) {
        return {status: response.status, headers, data: response.body, url: response.url}
      }
      if (response.status === 401 && sameOrigin && this.auth.withheld) {
        // An anonymous token that does not do: say why the credentials stayed home.
        await drain(response.body)
        throw new RegistryError('UNAUTHORIZED', `${request.what}: registry ${this.registry} refused ${this.refusedWhat()}`, {status: 401})
      }
      const body = await readLimited(response.body)
      const error = registryErrorFromResponse(response.status, headers, body, request.what)
      if (response.status === 429) this.pause(error.retryAfterMs ?? 1000)
      if (request.idempotent && error.retryable && attempt < this.requestRetries) {
        attempt++
        const delay = backoffDelay(attempt, {retryAfterMs: error.retryAfterMs})
        if (delay >= 0) {
          await sleep(delay, request.signal)
          continue
        }
      }
      throw error
    }
  }

  /** Same as send, with the body read into memory (up to `bodyLimit`): for manifests and tag lists. */
  async sendForBuffer(request: RegistryRequest): Promise<RegistryResponse<Buffer>> {
    const response = await this.send({...request, responseType: 'buffer'})
    return {...response, data: (response.data as Buffer | undefined) ?? Buffer.alloc(0)}
  }

  /**
   * Absolute URL for a path or a Location header; only http and https. Whether another host may be
   * contacted is the address guard's question, asked before each request that leaves the registry.
   */
  resolve(pathOrUrl: string): string {
    const url = new URL(pathOrUrl, this.baseUrl)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FerryError('UNSAFE_REDIRECT', `registry ${this.registry} sent a ${url.protocol} URL; refused`)
    }
    return url.toString()
  }

  private async attempt(url: string, request: RegistryRequest, authorization: string | undefined): Promise<TransportResponse> {
    try {
      const response = await this.attemptUnobserved(url, request, authorization)
      this.observer?.onRequest?.(this.registry, request.method, response.status)
      return response
    } catch (error) {
      this.observer?.onRequest?.(this.registry, request.method, 0)
      throw error
    }
  }

  private async attemptUnobserved(url: string, request: RegistryRequest, authorization: string | undefined): Promise<TransportResponse> {
    const queued = performance.now()
    await this.waitWhilePaused(request.signal)
    const headers: Record<string, string> = {...request.headers}
    if (authorization) headers.Authorization = authorization
    const limit = request.bodyLimit ?? HEADERS_ONLY
    return this.limiter.schedule(() => {
      const waited = performance.now() - queued
      if (waited >= 1) this.observer?.onRateLimitWait?.(this.registry, waited)
      return this.http.request({
        url,
        method: request.method,
        headers,
        body: request.body,
        stream: request.responseType === 'stream',
        // A blob GET may be redirected to storage elsewhere; never to a private host (SSRF).
        maxRedirects: request.method === 'GET' || request.method === 'HEAD' ? 5 : 0,
        checkRedirect: (target) => this.checkHop(this.resolve(target), 'a redirect'),
        // A stalled body must fail, not hang: an idle timeout, never a total one, so huge layers can take hours.
        idleTimeoutMs: this.idleTimeoutMs,
        timeoutError: () => new FerryError('TIMEOUT', `${request.what}: no data for ${this.idleTimeoutMs / 1000}s`, {retryable: true}),
        bodyLimit: {bytes: limit.bytes, error: (announced) => bodyTooLarge(request.what, `registry ${this.registry}`, limit, announced)},
        errorBodyBytes: ERROR_BODY_LIMIT,
        signal: request.signal,
      })
    })
  }

  /** The private-address guard for a URL on another host (a redirect, an upload Location, a token realm). */
  private async checkHop(url: string, what: string): Promise<void> {
    if (new URL(url).origin === this.origin) return
    await this.guard.check(new URL(url), what, {resolve: !this.http.proxied(url), registry: this.registry})
  }

  /** What a refusal refused, and why credentials were kept back when they were. */
  private refusedWhat(): string {
    if (this.auth.withheld) return `anonymous access: the credentials from the security file were not sent, as ${this.auth.withheld}`
    return this.auth.anonymous ? 'anonymous access (add credentials to the security file)' : 'the credentials from the security file'
  }

  private pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms)
  }

  private async waitWhilePaused(signal?: AbortSignal): Promise<void> {
    while (Date.now() < this.pausedUntil) await sleep(this.pausedUntil - Date.now(), signal)
  }

  private async fetchToken({url, authorization, form}: TokenRequest, signal?: AbortSignal) {
    await this.checkHop(url, 'its token realm')
    const headers: Record<string, string> = {}
    if (authorization) headers.Authorization = authorization
    if (form) headers['Content-Type'] = 'application/x-www-form-urlencoded'
    const payload = form ? Buffer.from(form.toString()) : undefined
    let attempt = 0
    for (;;) {
      let response: TransportResponse
      try {
        response = await this.limiter.schedule(() =>
          this.http.request({
            url,
            method: form ? 'POST' : 'GET',
            headers,
            body: payload,
            stream: false,
            maxRedirects: 0,
            checkRedirect: () => undefined,
            idleTimeoutMs: this.idleTimeoutMs,
            timeoutError: () => new FerryError('TIMEOUT', `token for registry ${this.registry}: no data for ${this.idleTimeoutMs / 1000}s`, {retryable: true}),
            bodyLimit: {bytes: TOKEN.bytes, error: (announced) => bodyTooLarge(`token for registry ${this.registry}`, `the token server of registry ${this.registry}`, TOKEN, announced)},
            errorBodyBytes: ERROR_BODY_LIMIT,
            signal,
          }),
        )
      } catch (error) {
        const failure = networkError(error, `token for registry ${this.registry}`, signal)
        if (failure.retryable && attempt < this.requestRetries) {
          attempt++
          await sleep(backoffDelay(attempt), signal)
          continue
        }
        throw failure
      }
      const body = response.body as Buffer
      if (response.status === 401 || response.status === 403) {
        throw new RegistryError(
          'UNAUTHORIZED',
          `token server of registry ${this.registry} refused ${this.refusedWhat()}`,
          {status: response.status},
        )
      }
      if (response.status !== 200) {
        const error = registryErrorFromResponse(response.status, plainHeaders(response.headers), body, `token for registry ${this.registry}`)
        if (error.retryable && attempt < this.requestRetries) {
          attempt++
          await sleep(Math.max(0, backoffDelay(attempt, {retryAfterMs: error.retryAfterMs})), signal)
          continue
        }
        throw error
      }
      let parsed: {token?: unknown; access_token?: unknown; expires_in?: unknown}
      try {
        parsed = JSON.parse(body.toString('utf8'))
      } catch {
        throw new FerryError('AUTH_FAILED', `token server of registry ${this.registry} answered something that is not JSON`)
      }
      const token = typeof parsed.token === 'string' ? parsed.token : parsed.access_token
      if (typeof token !== 'string' || token === '') {
        throw new FerryError('AUTH_FAILED', `token server of registry ${this.registry} answered without a token`)
      }
      // A registry may quote the token back in an error message, without the word Bearer.
      this.onSecret?.(token)
      const expiresIn = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60
      return {token, expiresIn}
    }
  }
}

function replayable(request: RegistryRequest): boolean {
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

async function readLimited(data: unknown): Promise<Buffer | undefined> {
  if (data === undefined || data === null) return undefined
  if (Buffer.isBuffer(data)) return data.subarray(0, ERROR_BODY_LIMIT)
  if (data instanceof ArrayBuffer) return Buffer.from(data).subarray(0, ERROR_BODY_LIMIT)
  const stream = data as Readable
  if (typeof stream.on !== 'function') return undefined
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of stream) {
      if (size < ERROR_BODY_LIMIT) chunks.push(chunk as Buffer)
      size += (chunk as Buffer).length
      if (size >= ERROR_BODY_LIMIT) break
    }
  } catch {
    // The error status is what matters; a body cut short only loses detail.
  } finally {
    stream.destroy()
  }
  return Buffer.concat(chunks)
}

async function drain(data: unknown): Promise<void> {
  await readLimited(data)
}

/** A failure below HTTP (reset, refused, timeout, abort) as a FerryError; resets are retryable. */
export function networkError(error: unknown, what: string, signal?: AbortSignal): FerryError {
  if (FerryError.is(error)) return error
  if (signal?.aborted) return new FerryError('ABORTED', `${what}: aborted`, {cause: error})
  const code = (error as {code?: string}).code
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
    return new FerryError('TIMEOUT', `${what}: timed out`, {retryable: true, cause: error})
  }
  if (code === 'ERR_CANCELED') return new FerryError('ABORTED', `${what}: aborted`, {cause: error})
  const detail = code ?? (error instanceof Error ? error.message : String(error))
  const certificate = typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)
  if (certificate) {
    return new FerryError(
      'TLS',
      `${what}: TLS certificate not trusted (${code}); set caFile for this registry in the security file, or skipTlsVerify: true`,
      {cause: error},
    )
  }
  return new FerryError('NETWORK', `${what}: ${detail}`, {retryable: true, cause: error})
}

function nodeExtraCa(): string | undefined {
  const file = process.env.NODE_EXTRA_CA_CERTS
  if (!file) return undefined
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}
