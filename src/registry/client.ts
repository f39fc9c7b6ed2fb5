import {readFileSync} from 'node:fs'
import tls from 'node:tls'

import {FerryError, RegistryError} from '../errors.js'
import {withRetry} from '../retry.js'
import {AddressGuard} from './address-guard.js'
import {Authenticator, type CredentialSource, type TokenRequest} from './auth.js'
import {bodyTooLarge, ERROR_BODY_LIMIT, HEADERS_ONLY_LIMIT, MANIFEST_LIMIT, TOKEN_LIMIT, type BodyLimit} from './body-limits.js'
import {credentialsRefused, networkError, registryErrorFromResponse, wrongLogin} from './errors.js'
import {HttpTransport, type TransportResponse} from './http-transport.js'
import {expectedAnswers} from './layers/answer.js'
import {attemptOutcome, type AttemptObserver} from './layers/attempt.js'
import {authorize, refusedWhat} from './layers/auth.js'
import {compose, type Send} from './layers/exchange.js'
import {rateLimit, RegistryPause} from './layers/rate-limit.js'
import {pullQuota, stoppedBeforeAttempt, stoppedRegistry, type RegistryRunState} from './layers/registry-state.js'
import {retryRequests} from './layers/retry.js'
import type {RequestLimiter} from './limiter.js'
import {PullQuotas, type PullQuota} from './pull-quota.js'
import {RegistryStops} from './registry-stops.js'
import {plainHeaders, type RegistryRequest, type RegistryResponse} from './request.js'

// Where they were declared before the layers moved out; callers keep importing them from here.
export {networkError} from './errors.js'
export {plainHeaders, type RegistryRequest, type RegistryResponse} from './request.js'

/**
 * How to reach one registry: the one declaration, filled by the caller (config/security.ts from
 * security.yaml, docker config or a skopeo sync file; a provider for its own registry).
 */
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
  /** Absolute path of the CA bundle it was read from, for messages. */
  caFile?: string
  /** Extra trusted CA, PEM. */
  ca?: string
  /** Where this access was written (a security file's key as written), for messages and as the client pool's key. */
  entry?: string
  /**
   * Where the user wrote these settings, in words they know ('security.yaml:4', 'docker
   * config.json'), for messages that say what to fix. The client knows no files: without it
   * messages speak of the credentials given for the registry.
   */
  writtenIn?: string
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
  /** The run's registry stops and pull quotas, shared by its clients; a client of its own keeps its own. */
  state?: RegistryRunState
}

/** Watches a client's traffic (metrics); never changes it. */
export interface RegistryObserver extends AttemptObserver {
  /** Time a request waited for the rate limit: --qps pacing and a 429's pause. */
  onRateLimitWait?(registry: string, ms: number): void
  /** What a registry's answers said of its pull limit (the pulls left), as they said it. */
  onPullQuota?(quota: PullQuota): void
}

const HEADERS_ONLY: BodyLimit = {bytes: HEADERS_ONLY_LIMIT, name: 'the limit for an answer read only for its headers'}
const TOKEN: BodyLimit = {bytes: TOKEN_LIMIT, name: 'the token limit'}

/**
 * One client per registry: keep-alive agents, the registry's TLS settings, authentication, the
 * shared limiter and request-level retries, as layers over the transport composed in `send`
 * (./layers). It knows nothing of jobs.
 */
export class RegistryClient {
  readonly registry: string
  readonly baseUrl: string
  readonly maxManifestBytes: number
  /** Who the client is at the registry (the account name; empty without one), never a secret. */
  readonly identity: string
  private readonly http: HttpTransport
  private readonly origin: string
  private readonly auth: Authenticator
  private readonly guard: AddressGuard
  private readonly limiter: RequestLimiter
  private readonly idleTimeoutMs: number
  private readonly requestRetries: number
  private readonly onSecret?: (secret: string) => void
  private readonly observer?: RegistryObserver
  private readonly writtenIn?: string
  /** The credentials' entry (RegistryAccess.entry): a refused login stops this client's requests, not the registry's. */
  private readonly entry?: string
  /** A 429 holds this registry's requests; other registries keep going. */
  private readonly pause = new RegistryPause()
  private readonly state: RegistryRunState
  /** The layers over the transport, composed once (`layers`). */
  private readonly exchange: Send

  constructor(options: ClientOptions) {
    this.registry = options.registry
    this.identity = options.access.username ?? ''
    const scheme = options.access.insecure ? 'http' : 'https'
    this.baseUrl = `${scheme}://${options.endpoint}`
    this.limiter = options.limiter
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000
    this.requestRetries = options.requestRetries ?? 3
    this.maxManifestBytes = options.maxManifestBytes ?? MANIFEST_LIMIT
    this.onSecret = options.onSecret
    this.observer = options.observer
    this.writtenIn = options.access.writtenIn
    this.entry = options.access.entry
    this.state = options.state ?? {stops: new RegistryStops(), quotas: new PullQuotas({whenSpent: 'stop'}), reserve: 0}
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
    this.exchange = this.layers()
  }

  /**
   * A provider's temporary passwords are secrets too: each one reaches the redactor as it is
   * issued. The refused login is handed on: without it the provider cannot tell a refusal from a
   * lookup, and a login the registry let die early was sent again until its renewal time.
   */
  private reporting(source: CredentialSource): CredentialSource {
    return async (refused) => {
      const credentials = await source(refused)
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
    const answer = await this.exchange({request, url, sameOrigin})
    return {status: answer.status, headers: answer.headers, data: answer.body, url: answer.url}
  }

  /**
   * The one place the layers are composed, innermost first: every attempt waits out a 429's pause
   * and passes the limiter, is counted and has its failure typed, spends (and reads) the pull
   * quota, is refused when the run stopped its registry or credentials meanwhile, carries the
   * authorization of its scopes (renewed on a 401), has its status checked against what the
   * request expects, and is retried when idempotent; a registry the run stopped is refused before
   * all of that. Composed once per client: no layer keeps state for one request
   * in its closure (the auth layer counts renewals per exchange).
   */
  private layers(): Send {
    return compose(
      this.transport,
      rateLimit(this.limiter, this.pause, (ms) => this.observer?.onRateLimitWait?.(this.registry, ms)),
      attemptOutcome(this.registry, this.observer, this.writtenIn),
      pullQuota(this.state, this.registry),
      stoppedBeforeAttempt(this.state, this.registry, this.entry),
      authorize(this.auth, this.registry, this.writtenIn),
      expectedAnswers(),
      retryRequests(this.requestRetries),
      stoppedRegistry(this.state, this.registry, this.entry),
    )
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

  /** The bottom of the layers: one HTTP exchange, with whatever authorization the layers above chose. */
  private readonly transport: Send = async ({request, url, authorization, currentAuthorization}) => {
    const headers: Record<string, string> = {...request.headers}
    const header = currentAuthorization ? await currentAuthorization() : authorization
    if (header) headers.Authorization = header
    const limit = request.bodyLimit ?? HEADERS_ONLY
    const response = await this.http.request({
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
    return {status: response.status, headers: plainHeaders(response.headers), body: response.body, url: response.url}
  }

  /** The private-address guard for a URL on another host (a redirect, an upload Location, a token realm). */
  private async checkHop(url: string, what: string): Promise<void> {
    if (new URL(url).origin === this.origin) return
    await this.guard.check(new URL(url), what, {resolve: !this.http.proxied(url), registry: this.registry})
  }

  /**
   * The token server's answer, retried like a request (it is one: a GET or a form POST) but
   * outside the layers: it passes the limiter, not a 429's pause. Retries count attempts after
   * the first, as every retry here does (`requestRetries`); a Retry-After past the cap gives up.
   */
  private async fetchToken({url, authorization, form}: TokenRequest, signal?: AbortSignal) {
    await this.checkHop(url, 'its token realm')
    const what = `token for registry ${this.registry}`
    const headers: Record<string, string> = {}
    if (authorization) headers.Authorization = authorization
    if (form) headers['Content-Type'] = 'application/x-www-form-urlencoded'
    const payload = form ? Buffer.from(form.toString()) : undefined
    const response = await withRetry(
      async () => {
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
              timeoutError: () => new FerryError('TIMEOUT', `${what}: no data for ${this.idleTimeoutMs / 1000}s`, {retryable: true}),
              bodyLimit: {bytes: TOKEN.bytes, error: (announced) => bodyTooLarge(what, `the token server of registry ${this.registry}`, TOKEN, announced)},
              errorBodyBytes: ERROR_BODY_LIMIT,
              signal,
            }),
          )
        } catch (error) {
          throw networkError(error, what, signal, this.writtenIn)
        }
        if (response.status === 401 || response.status === 403) {
          const refused = new RegistryError(
            'UNAUTHORIZED',
            `token server of registry ${this.registry} refused ${refusedWhat(this.auth, this.registry, this.writtenIn)}`,
            {status: response.status},
          )
          // The login itself, sent and refused: no request with it can succeed in this run. (A
          // provider's login is renewed instead; anonymous and withheld are per repository.)
          const loginRefused = !this.auth.anonymous && !this.auth.withheld && !this.auth.renewable && !form
          throw loginRefused ? credentialsRefused(refused, wrongLogin(this.registry, this.writtenIn, true)) : refused
        }
        if (response.status !== 200) {
          throw registryErrorFromResponse(response.status, plainHeaders(response.headers), response.body as Buffer, what)
        }
        return response
      },
      // Every failure above is typed; only those that say so are tried again.
      {retries: this.requestRetries, retryable: (error) => FerryError.is(error) && error.retryable, signal},
    )
    const body = response.body as Buffer
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

function nodeExtraCa(): string | undefined {
  const file = process.env.NODE_EXTRA_CA_CERTS
  if (!file) return undefined
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}
