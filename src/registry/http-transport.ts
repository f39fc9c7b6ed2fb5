import http from 'node:http'
import https from 'node:https'
import {pipeline, type Readable} from 'node:stream'
import tls from 'node:tls'

import {ProxyAgents, type ProxyFor} from './proxy-agents.js'
import {lookupHost} from './reserved-names.js'

/** The TLS side of one registry's connections. */
export interface TransportTls {
  rejectUnauthorized: boolean
  /** Replaces Node's trust store when given (the caller adds the public roots). */
  ca?: string[]
}

export interface TransportRequest {
  url: string
  method: string
  headers: Record<string, string>
  body?: Buffer | Readable
  /** Answer with the body as a stream (blobs) rather than read into a Buffer. */
  stream: boolean
  /** Redirects followed for this request; 0 returns a 3xx as it is. */
  maxRedirects: number
  /** Sees every redirect target before it is contacted; throws (or rejects) to refuse it. */
  checkRedirect: (url: string) => void | Promise<void>
  /** No bytes moving for this long, while waiting or while reading the body, fails the request. */
  idleTimeoutMs: number
  timeoutError: () => Error
  /**
   * For a body read into memory (not `stream`): a success answer larger than `bytes` fails with
   * `error`, as soon as its Content-Length says so (nothing read) or its bytes pass the limit;
   * the connection is dropped, so no more is read. Absent: no limit.
   */
  bodyLimit?: {bytes: number; error: (announced?: number) => Error}
  /** Bytes kept of a buffered answer that is not a success (an error page, a redirect); the rest is never read. */
  errorBodyBytes?: number
  signal?: AbortSignal
}

export interface TransportResponse {
  status: number
  headers: http.IncomingHttpHeaders
  /** Buffer (empty for HEAD) or, with `stream`, the response itself. */
  body: Buffer | Readable
  /** The URL that answered, after redirects. */
  url: string
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
/** What `errorBodyBytes` is when not given: room for an OCI error body. */
const ERROR_BODY_BYTES = 64 * 1024
const AGENT = {keepAlive: true, maxSockets: 64}

/** Failures met on a redirect to another origin (storage), by the host that failed. */
const elsewhere = new WeakMap<object, string>()

/** The host of another origin a redirect led to, when `error` happened there rather than at the URL asked for. */
export function failedElsewhere(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? elsewhere.get(error) : undefined
}

/**
 * Keep-alive HTTP/1.1 straight on node:http. It replaces axios in the registry client because a
 * no-change run is thousands of HEADs and axios + follow-redirects cost about twice the CPU of the
 * request itself (bench/README.md). It does only what the client needs: redirects with
 * a per-hop check, an idle timeout that also covers streamed bodies, abort, streamed uploads whose
 * own error wins.
 */
export class HttpTransport {
  private readonly httpAgent = new http.Agent(AGENT)
  private httpsAgent?: https.Agent
  private readonly aborts = new AbortWatch()
  private readonly proxies: ProxyAgents
  private tlsOptions?: https.AgentOptions

  constructor(
    private readonly settings: TransportTls,
    private readonly userAgent: string,
    proxyFor?: ProxyFor,
  ) {
    this.proxies = new ProxyAgents(() => this.tls(), proxyFor)
  }

  /**
   * One secure context with the trust store, built once: given as `ca`, Node parses every root
   * certificate again for each new connection and copies them all into each pool key. Built on the
   * first https request: a plain-http registry never pays for it (about 0.15 s of CPU per client).
   */
  private tls(): https.AgentOptions {
    const {rejectUnauthorized, ca} = this.settings
    this.tlsOptions ??= {rejectUnauthorized, ...(ca ? {secureContext: tls.createSecureContext({ca})} : {})}
    return this.tlsOptions
  }

  /** The agent for a URL: through the proxy the environment names for it, else direct. */
  private agentFor(target: URL): http.Agent {
    const proxied = this.proxies.for(target)
    if (proxied) return proxied
    if (target.protocol !== 'https:') return this.httpAgent
    this.httpsAgent ??= new https.Agent({...AGENT, ...this.tls()})
    return this.httpsAgent
  }

  /** Whether requests to `url` go through a proxy (which then resolves the host name itself). */
  proxied(url: string): boolean {
    return this.proxies.for(new URL(url)) !== undefined
  }

  async request(request: TransportRequest): Promise<TransportResponse> {
    let url = request.url
    let method = request.method
    let headers: Record<string, string> = {'User-Agent': this.userAgent, ...request.headers}
    let body = request.body
    for (let hop = 0; ; hop++) {
      const response = await this.once(url, method, headers, body, request).catch((error: unknown) => {
        if (typeof error === 'object' && error !== null && new URL(url).origin !== new URL(request.url).origin) elsewhere.set(error, new URL(url).host)
        throw error
      })
      const location = response.headers.location
      if (!REDIRECTS.has(response.status) || !location || hop >= request.maxRedirects) return response
      const next = new URL(location, url)
      await request.checkRedirect(next.toString())
      // Credentials are for the registry, never for the storage it redirects to (S3 would refuse them
      // too), and never for the same host over another scheme: https → http would send them in clear.
      if (next.origin !== new URL(url).origin) headers = withoutHeader(headers, 'authorization')
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET'
        body = undefined
        headers = withoutHeader(withoutHeader(headers, 'content-length'), 'content-type')
      }
      url = next.toString()
    }
  }

  private once(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
    request: TransportRequest,
  ): Promise<TransportResponse> {
    return new Promise<TransportResponse>((resolve, reject) => {
      const target = new URL(url)
      const secure = target.protocol === 'https:'
      let settled = false
      const fail = (error: Error) => {
        if (settled) return
        settled = true
        reject(error)
      }
      const outgoing = Buffer.isBuffer(body) && !hasHeader(headers, 'content-length') ? {...headers, 'Content-Length': String(body.length)} : headers
      const req = (secure ? https : http).request({
        protocol: target.protocol,
        hostname: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port || (secure ? 443 : 80),
        path: `${target.pathname}${target.search}`,
        method,
        headers: outgoing,
        agent: this.agentFor(target),
        lookup: lookupHost,
      })
      const untrack = request.signal ? this.aborts.track(request.signal, req) : () => undefined
      let responded = false
      // A streamed body outlives its request object; it stays abortable until the response closes.
      req.on('close', () => {
        if (!responded) untrack()
      })
      const onRequestIdle = () => req.destroy(request.timeoutError())
      req.setTimeout(request.idleTimeoutMs)
      req.on('timeout', onRequestIdle)
      req.on('error', fail)
      req.on('response', (res) => {
        responded = true
        res.on('close', untrack)
        req.removeListener('timeout', onRequestIdle)
        res.setTimeout(request.idleTimeoutMs, () => res.destroy(request.timeoutError()))
        const status = res.statusCode ?? 0
        const redirecting = REDIRECTS.has(status) && res.headers.location !== undefined
        if (request.stream && !redirecting) {
          settled = true
          resolve({status, headers: res.headers, body: res, url})
          return
        }
        res.on('error', fail)
        // Counted while reading, never read whole and cut afterwards: a body that never ends must
        // cost no more memory than its limit.
        const success = status >= 200 && status < 300
        const limit = success && method !== 'HEAD' ? request.bodyLimit : undefined
        const keep = success ? Infinity : (request.errorBodyBytes ?? ERROR_BODY_BYTES)
        const announced = Number(res.headers['content-length'])
        if (limit && Number.isFinite(announced) && announced > limit.bytes) {
          fail(limit.error(announced))
          res.destroy()
          return
        }
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          if (settled) return
          size += chunk.length
          if (limit && size > limit.bytes) {
            fail(limit.error())
            res.destroy()
            return
          }
          if (size < keep) return void chunks.push(chunk)
          chunks.push(chunk.subarray(0, chunk.length - (size - keep)))
          settled = true
          resolve({status, headers: res.headers, body: Buffer.concat(chunks), url})
          res.destroy()
        })
        res.on('end', () => {
          if (settled) return
          settled = true
          resolve({status, headers: res.headers, body: Buffer.concat(chunks), url})
        })
      })
      if (body === undefined || Buffer.isBuffer(body)) {
        req.end(body)
      } else {
        // The body's own error (a digest mismatch from the verifier) is the one to report.
        pipeline(body, req, (error) => {
          if (error) fail(error)
        })
      }
    })
  }
}

/**
 * One abort listener per signal, however many requests share it. A run's signal is shared by every
 * request in flight; handing it to each http.request adds a listener apiece, and Node warns of a
 * leak past ten (it printed on every run with --routines above a handful).
 */
class AbortWatch {
  private readonly inFlight = new WeakMap<AbortSignal, Set<http.ClientRequest>>()

  /** Destroys `req` if `signal` aborts before the returned function is called. */
  track(signal: AbortSignal, req: http.ClientRequest): () => void {
    if (signal.aborted) {
      req.destroy(abortError(signal))
      return () => undefined
    }
    let requests = this.inFlight.get(signal)
    if (!requests) {
      const tracked = new Set<http.ClientRequest>()
      requests = tracked
      this.inFlight.set(signal, tracked)
      signal.addEventListener(
        'abort',
        () => {
          for (const each of tracked) each.destroy(abortError(signal))
          tracked.clear()
        },
        {once: true},
      )
    }
    const set = requests
    set.add(req)
    return () => set.delete(req)
  }
}

function abortError(signal: AbortSignal): Error {
  const error = new Error('the request was aborted', {cause: signal.reason})
  error.name = 'AbortError'
  return error
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name)
}

function withoutHeader(headers: Record<string, string>, name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([key]) => key.toLowerCase() !== name))
}
