// An HTTP proxy in front of a real test registry, forwarding everything and injecting faults on
// demand: what flaky networks, overloaded registries and broken storage do to a copier, without a
// mock of the registry API. Like http.ts it shares no code with src/.
//
// Every request is recorded with a millisecond timestamp (fractional, from performance.now()), so
// tests can measure request rates and the spacing of retries from the outside, at the wire.
import {mkdtemp, readFile} from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import os from 'node:os'
import {join} from 'node:path'
import {performance} from 'node:perf_hooks'
import {Transform, type TransformCallback} from 'node:stream'
import type {TLSSocket} from 'node:tls'
import {onProcessExit, removeDirOnExit} from './cleanup.js'
import type {Endpoint} from './http.js'
import {makeServerCertificates} from './tls.js'

export type Fault =
  /** Forward; send the headers and `afterBytes` bytes of the body, then reset the TCP connection (RST). */
  | {kind: 'reset'; afterBytes: number}
  /**
   * Take `afterBytes` bytes of the request body (an upload), then reset the client's connection.
   * The registry gets those bytes and then the cut, as over a direct link; with `buffered`, nothing
   * of that request, as behind a front that buffers request bodies before passing them on (nginx's
   * default, `proxy_request_buffering on`). A body shorter than `afterBytes` goes through whole.
   */
  | {kind: 'reset-request'; afterBytes: number; buffered?: boolean}
  /** Answer this status without asking the registry (a request body is read and dropped first). */
  | {kind: 'status'; status: number; retryAfter?: string | number; body?: string}
  /**
   * Send nothing for `ms` (default: until the proxy stops), then drop the connection. With
   * `headers`, the registry's status line and headers go out first and only the body stalls.
   */
  | {kind: 'stall'; headers?: boolean; ms?: number}
  /**
   * Forward with the registry's Content-Length, send `afterBytes` bytes of the body and close the
   * connection cleanly (FIN): the client sees fewer bytes than declared.
   */
  | {kind: 'truncate'; afterBytes: number}
  /**
   * Forward without a Content-Length (chunked), send `afterBytes` bytes and end the body properly:
   * a well-formed response that is simply short. Only a size check can tell.
   */
  | {kind: 'short'; afterBytes: number}
  /**
   * Forward with one byte flipped (XOR 0xff) at `offset` of the whole resource (default: its
   * middle), also in a 206 answer whose range covers it; same length.
   */
  | {kind: 'corrupt'; offset?: number}
  /**
   * Answer `status` with an OCI error body quoting the request's Authorization header (a careless
   * registry); `withoutScheme` quotes only the credential, without its `Basic `/`Bearer ` word.
   */
  | {kind: 'echo-auth'; status: number; withoutScheme?: boolean}
  /**
   * Answer with whatever `answer` returns, without asking the registry: the hostile registry's
   * way to serve a forged tag list, a looping Link, an endless body or a redirect elsewhere.
   * `upstream` fetches the real registry's answer to the same request (its body too) first, when the forgery
   * builds on it.
   */
  | {kind: 'respond'; answer: (request: ProxyRequest, upstream: () => Promise<UpstreamAnswer>) => Promise<Answer> | Answer}

/** What the real registry behind the proxy answered (body read whole). */
export interface UpstreamAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

/** A forged answer: a body in memory, or a stream (endless ones included) piped until the client goes. */
export interface Answer {
  status: number
  headers?: http.OutgoingHttpHeaders
  body?: Buffer | string | (() => NodeJS.ReadableStream)
}

export interface FaultRule {
  /** Exact method (GET, HEAD, PUT, …); any when absent. */
  method?: string
  /** Tested against the request path with its query string. */
  path: RegExp
  /** Matching requests to let through before the fault starts; default 0. */
  skip?: number
  /** How many matching requests get the fault; default every one (a persistent fault). */
  times?: number
  fault: Fault
}

export interface ActiveFault {
  readonly rule: FaultRule
  /** Matching requests seen so far (skipped ones included). */
  readonly matched: number
  /** Requests the fault was applied to. */
  readonly hits: number
  remove(): void
}

export interface ProxyRequest {
  method: string
  /** Path and query as the client sent them. */
  path: string
  /** Arrival, in ms since the epoch with sub-millisecond precision. */
  at: number
  /** When the response (or the fault) finished or the connection ended, same clock. */
  endedAt?: number
  /** Status sent to the client; undefined when none was (a stall without headers). */
  status?: number
  /** The kind of fault applied, if any. */
  fault?: Fault['kind']
  /** Bytes of the request body received from the client (uploads). */
  bodyBytes: number
  /** Request headers as received (lower-case names). */
  headers: http.IncomingHttpHeaders
  /** Arrived over TLS (only a `tls` proxy serves both). */
  secure: boolean
}

export interface FaultProxyOptions {
  /**
   * Serve HTTPS (a certificate for 127.0.0.1 and localhost from a fresh CA: `caFile`, `caPem`)
   * and, on the same port, plain HTTP: a redirect from https:// to http:// on the same host and
   * port reaches this proxy too, and each request's `secure` tells which one it came by.
   */
  tls?: boolean
  /**
   * Hold every request body (PATCH, PUT, POST) until it is complete before passing it on, as a
   * front with nginx's default `proxy_request_buffering on` does: a body cut short never reaches
   * the registry.
   */
  bufferRequests?: boolean
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`, the registry part of an image reference that goes through the proxy. */
  host: string
  url: string
  /** The CA to trust, with `tls`. */
  caFile?: string
  caPem?: string
  upstream: string
  /** Every request so far, in arrival order. */
  readonly requests: ProxyRequest[]
  addFault(rule: FaultRule): ActiveFault
  clearFaults(): void
  /** Requests matching method and path (regex or exact). */
  count(filter?: {method?: string; path?: string | RegExp; status?: number; fault?: Fault['kind']}): number
  /** The largest number of requests that arrived within any window of `windowMs` (default 1000). */
  peakRate(windowMs?: number, requests?: ProxyRequest[]): number
  stop(): Promise<void>
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

function now(): number {
  return performance.timeOrigin + performance.now()
}

function forwardHeaders(headers: http.IncomingHttpHeaders, drop: string[] = []): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.includes(name)) continue
    out[name] = value
  }
  return out
}

/** Counts bytes through and calls `at` once `limit` bytes have passed; passes at most `limit`. */
class Limit extends Transform {
  private seen = 0
  private fired = false
  constructor(
    private readonly limit: number,
    private readonly at: () => void,
  ) {
    super()
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.fired) return callback()
    const room = this.limit - this.seen
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room)
    this.seen += part.length
    if (part.length > 0) this.push(part)
    if (this.seen >= this.limit) {
      this.fired = true
      // After the bytes just pushed have flowed on to the response.
      setImmediate(this.at)
    }
    callback()
  }
  get reached(): boolean {
    return this.fired
  }
}

class FlipByte extends Transform {
  private seen = 0
  constructor(private readonly offset: number) {
    super()
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const start = this.seen
    this.seen += chunk.length
    if (this.offset >= start && this.offset < this.seen) {
      const copy = Buffer.from(chunk)
      copy[this.offset - start] = copy[this.offset - start]! ^ 0xff
      return callback(null, copy)
    }
    callback(null, chunk)
  }
}

/** Starts a proxy on 127.0.0.1 (random port) in front of `upstream` (a TestRegistry will do). */
export async function startFaultProxy(upstream: Pick<Endpoint, 'url' | 'caPem'>, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const upstreamUrl = new URL(upstream.url)
  const upstreamOrigin = upstreamUrl.origin
  const transport = upstreamUrl.protocol === 'https:' ? https : http
  const agent = new transport.Agent({keepAlive: true, maxSockets: 256, ...(upstream.caPem ? {ca: upstream.caPem} : {})})
  const requests: ProxyRequest[] = []
  const rules: Array<{rule: FaultRule; matched: number; hits: number}> = []
  const sockets = new Set<net.Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let origin = ''

  function pick(method: string, path: string): Fault | undefined {
    for (const entry of rules) {
      const {rule} = entry
      if (rule.method !== undefined && rule.method !== method) continue
      if (!rule.path.test(path)) continue
      entry.matched++
      const skip = rule.skip ?? 0
      if (entry.matched <= skip) continue
      if (entry.matched > skip + (rule.times ?? Number.POSITIVE_INFINITY)) continue
      entry.hits++
      return rule.fault
    }
    return undefined
  }

  function later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer)
      action()
    }, ms)
    timers.add(timer)
  }

  /** Back to the host the client asked (this proxy, or a link emulator in front of it). */
  function rewriteLocation(headers: http.OutgoingHttpHeaders, asked?: string): void {
    const location = headers.location
    if (typeof location === 'string' && location.startsWith(upstreamOrigin)) {
      const base = asked ? `${new URL(origin).protocol}//${asked}` : origin
      headers.location = base + location.slice(upstreamOrigin.length)
    }
  }

  /** The real registry's whole answer to a GET or HEAD, for forgeries built on it. */
  function fetchUpstream(method: string, path: string, incoming: http.IncomingHttpHeaders, body?: Buffer): Promise<UpstreamAnswer> {
    return new Promise((resolve, reject) => {
      const headers = forwardHeaders(incoming, ['content-length'])
      headers.host = upstreamUrl.host
      if (body && body.length > 0) headers['content-length'] = String(body.length)
      const request = transport.request(new URL(path, upstreamOrigin), {method, headers, agent}, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => {
          const responseHeaders = {...response.headers}
          resolve({status: response.statusCode ?? 502, headers: responseHeaders, body: Buffer.concat(chunks)})
        })
        response.on('error', reject)
      })
      request.on('error', reject)
      request.end(body && body.length > 0 ? body : undefined)
    })
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? 'GET'
    const path = req.url ?? '/'
    const record: ProxyRequest = {method, path, at: now(), headers: req.headers, secure: (req.socket as TLSSocket).encrypted === true, bodyBytes: 0}
    req.on('data', (chunk: Buffer) => (record.bodyBytes += chunk.length))
    requests.push(record)
    const socket = req.socket
    res.on('close', () => {
      record.endedAt = now()
    })
    const fault = pick(method, path)
    if (fault) record.fault = fault.kind

    const answer = (status: number, headers: http.OutgoingHttpHeaders, body: string): void => {
      // Read the request body first, as a registry would before deciding; the client is then never
      // cut off in the middle of sending, and what it sees is just the status.
      const send = () => {
        record.status = status
        res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers})
        res.end(method === 'HEAD' ? undefined : body)
      }
      if (req.readableEnded) send()
      else {
        req.on('end', send)
        req.resume()
      }
    }

    if (fault?.kind === 'status') {
      const headers: http.OutgoingHttpHeaders = {}
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter)
      // The codes Distribution itself uses for these statuses.
      const code = fault.status === 429 ? 'TOOMANYREQUESTS' : fault.status === 503 ? 'UNAVAILABLE' : 'UNKNOWN'
      answer(fault.status, headers, fault.body ?? JSON.stringify({errors: [{code, message: `injected ${fault.status}`}]}))
      return
    }
    if (fault?.kind === 'echo-auth') {
      const header = String(req.headers.authorization ?? 'nothing')
      const sent = fault.withoutScheme ? header.replace(/^\S+\s+/, '') : header
      answer(fault.status, {}, JSON.stringify({errors: [{code: 'DENIED', message: `you sent ${sent}`}]}))
      return
    }
    if (fault?.kind === 'respond') {
      // The request's body (a manifest PUT) goes along, read whole first.
      const chunks: Buffer[] = []
      const body = new Promise<Buffer>((resolve, reject) => {
        req.on('data', (chunk: Buffer) => chunks.push(chunk))
        req.on('end', () => resolve(Buffer.concat(chunks)))
        req.on('error', reject)
      })
      body.catch(() => undefined)
      const upstreamAnswer = async () => fetchUpstream(method, path, req.headers, await body)
      Promise.resolve()
        .then(() => fault.answer(record, upstreamAnswer))
        .then((forged) => {
          record.status = forged.status
          const body = forged.body
          if (typeof body === 'function') {
            res.writeHead(forged.status, forged.headers ?? {})
            if (method === 'HEAD') return res.end()
            const stream = body()
            res.on('close', () => (stream as unknown as {destroy?: () => void}).destroy?.())
            stream.pipe(res)
            return
          }
          const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(body)
          const send = () => {
            res.writeHead(forged.status, {'content-length': bytes.length, ...(forged.headers ?? {})})
            res.end(method === 'HEAD' ? undefined : bytes)
          }
          if (req.readableEnded) send()
          else {
            req.on('end', send)
            req.resume()
          }
        })
        .catch(() => socket.destroy())
      return
    }
    if (fault?.kind === 'stall' && !fault.headers) {
      req.resume()
      if (fault.ms !== undefined) later(fault.ms, () => socket.destroy())
      return
    }

    const target = new URL(path, upstreamOrigin)
    const headers = forwardHeaders(req.headers)
    headers.host = upstreamUrl.host
    const withBody = method === 'PATCH' || method === 'PUT' || method === 'POST'
    if ((fault?.kind === 'reset-request' && fault.buffered) || (options.bufferRequests && withBody)) {
      // Held until the whole body is here; a body cut short never reaches the registry.
      const held: Buffer[] = []
      let cut = false
      req.on('data', (chunk: Buffer) => {
        if (cut) return
        held.push(chunk)
        if (fault?.kind === 'reset-request' && record.bodyBytes >= fault.afterBytes) {
          cut = true
          socket.resetAndDestroy()
        }
      })
      req.on('end', () => {
        if (cut) return
        const upstreamReq = transport.request(target, {method, headers, agent}, (upstreamRes) => {
          record.status = upstreamRes.statusCode ?? 502
          const responseHeaders = forwardHeaders(upstreamRes.headers)
          rewriteLocation(responseHeaders, req.headers.host)
          res.writeHead(record.status, responseHeaders)
          upstreamRes.pipe(res)
        })
        upstreamReq.on('error', () => socket.destroy())
        upstreamReq.end(Buffer.concat(held))
      })
      return
    }
    const upstreamReq = transport.request(target, {method, headers, agent}, (upstreamRes) => {
      const status = upstreamRes.statusCode ?? 502
      const responseHeaders = forwardHeaders(upstreamRes.headers)
      rewriteLocation(responseHeaders, req.headers.host)
      record.status = status
      const hasBody = method !== 'HEAD' && status !== 204 && status !== 304
      if (!fault || !hasBody || fault.kind === 'reset-request') {
        res.writeHead(status, responseHeaders)
        upstreamRes.pipe(res)
        return
      }
      switch (fault.kind) {
        case 'stall': {
          res.writeHead(status, responseHeaders)
          res.flushHeaders()
          upstreamRes.pause()
          if (fault.ms !== undefined) {
            later(fault.ms, () => {
              upstreamRes.destroy()
              socket.destroy()
            })
          }
          return
        }
        case 'reset':
        case 'truncate': {
          res.writeHead(status, responseHeaders)
          res.flushHeaders()
          const cut = () => {
            upstreamRes.unpipe()
            upstreamRes.destroy()
            // Let the bytes written so far reach the client before the connection goes.
            res.write('', () => {
              if (fault.kind === 'reset') socket.resetAndDestroy()
              else socket.end()
            })
          }
          if (fault.afterBytes <= 0) {
            cut()
            return
          }
          const limit = new Limit(fault.afterBytes, cut)
          // A body shorter than the cut point goes through whole.
          limit.on('end', () => {
            if (!limit.reached) res.end()
          })
          upstreamRes.pipe(limit).pipe(res, {end: false})
          return
        }
        case 'short': {
          delete responseHeaders['content-length']
          res.writeHead(status, responseHeaders)
          const limit = new Limit(fault.afterBytes, () => {
            upstreamRes.unpipe()
            upstreamRes.destroy()
            limit.end()
          })
          upstreamRes.pipe(limit).pipe(res)
          if (fault.afterBytes <= 0) limit.end()
          return
        }
        case 'corrupt': {
          // The offset counts in the whole resource, so a ranged read that covers it is corrupt
          // too (as a bad disk behind the registry would be), and one that starts after it is not.
          const declared = Number(upstreamRes.headers['content-length'] ?? 0)
          const range = /^bytes (\d+)-\d+\/(\d+)$/.exec(String(upstreamRes.headers['content-range'] ?? ''))
          const start = status === 206 && range ? Number(range[1]) : 0
          const whole = status === 206 && range ? Number(range[2]) : declared
          const offset = (fault.offset ?? Math.floor(whole / 2)) - start
          res.writeHead(status, responseHeaders)
          upstreamRes.pipe(new FlipByte(offset)).pipe(res)
          return
        }
      }
    })
    upstreamReq.on('error', () => {
      if (!res.headersSent) {
        record.status = 502
        res.writeHead(502, {'content-type': 'text/plain'})
        res.end('fault proxy: upstream unreachable')
      } else {
        socket.destroy()
      }
    })
    // A client that goes away mid-upload takes the upstream request with it, as a real
    // connection would: the registry sees the upload cut short.
    req.on('aborted', () => upstreamReq.destroy())
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy()
    })
    if (fault?.kind === 'reset-request') {
      const limit = new Limit(fault.afterBytes, () => {
        upstreamReq.destroy()
        socket.resetAndDestroy()
      })
      req.pipe(limit).pipe(upstreamReq)
      return
    }
    req.pipe(upstreamReq)
  }

  const plain = http.createServer({keepAliveTimeout: 30_000}, handle)
  plain.on('clientError', (_error, socket) => socket.destroy())
  let server: net.Server = plain
  let certificates: {caFile: string; caPem: string} | undefined
  if (options.tls) {
    const dir = await mkdtemp(join(os.tmpdir(), 'ferry-proxy-'))
    removeDirOnExit(dir)
    const made = await makeServerCertificates(dir)
    certificates = made
    const secure = https.createServer({keepAliveTimeout: 30_000, cert: await readFile(made.certFile), key: await readFile(made.keyFile)}, handle)
    secure.on('tlsClientError', (_error, socket) => socket.destroy())
    // One port for both: a TLS connection starts with a handshake record (0x16), plain HTTP with a method.
    server = net.createServer((socket) => {
      socket.once('data', (first: Buffer) => {
        socket.pause()
        socket.unshift(first)
        ;(first[0] === 0x16 ? secure : plain).emit('connection', socket)
        process.nextTick(() => socket.resume())
      })
      socket.on('error', () => socket.destroy())
    })
  }
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  if (!options.tls) server.on('clientError', (_error, socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  server.unref()
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('fault proxy has no port')
  const host = `127.0.0.1:${address.port}`
  origin = `${options.tls ? 'https' : 'http'}://${host}`
  const forget = onProcessExit(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })

  const matches = (r: ProxyRequest, filter: {method?: string; path?: string | RegExp; status?: number; fault?: Fault['kind']}) =>
    (filter.method === undefined || r.method === filter.method) &&
    (filter.status === undefined || r.status === filter.status) &&
    (filter.fault === undefined || r.fault === filter.fault) &&
    (filter.path === undefined || (typeof filter.path === 'string' ? r.path === filter.path : filter.path.test(r.path)))

  let stopped = false
  return {
    host,
    url: origin,
    ...(certificates ? {caFile: certificates.caFile, caPem: certificates.caPem} : {}),
    upstream: upstreamOrigin,
    requests,
    addFault(rule) {
      const entry = {rule, matched: 0, hits: 0}
      rules.push(entry)
      return {
        rule,
        get matched() {
          return entry.matched
        },
        get hits() {
          return entry.hits
        },
        remove() {
          const i = rules.indexOf(entry)
          if (i >= 0) rules.splice(i, 1)
        },
      }
    },
    clearFaults() {
      rules.length = 0
    },
    count(filter = {}) {
      return requests.filter((r) => matches(r, filter)).length
    },
    peakRate(windowMs = 1000, list = requests) {
      const times = list.map((r) => r.at).sort((a, b) => a - b)
      return peakInWindow(times, windowMs)
    },
    async stop() {
      if (stopped) return
      stopped = true
      forget()
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const socket of sockets) socket.destroy()
      agent.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * The most timestamps inside any half-open window [t, t + windowMs) of sorted times: the count a
 * registry enforcing "N per second, sliding" would see at its worst moment.
 */
export function peakInWindow(sortedTimes: readonly number[], windowMs: number): number {
  let peak = 0
  let start = 0
  for (let end = 0; end < sortedTimes.length; end++) {
    while (sortedTimes[end]! - sortedTimes[start]! >= windowMs) start++
    peak = Math.max(peak, end - start + 1)
  }
  return peak
}
