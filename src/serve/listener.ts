/**
 * The standing mirror's HTTP face: registry events in, health and metrics out. Every authenticated
 * event delivery is answered 200 before anything is copied: a registry re-sends an unacknowledged
 * event forever and holds every later one behind it.
 */
import {createHash, timingSafeEqual} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

import {ConfigError} from '../errors.js'

/** Larger bodies are refused (413): a notification envelope is a few KiB. */
export const MAX_EVENT_BODY = 1024 * 1024

export type EventEndpoint = 'registry' | 'harbor'

export interface ListenerOptions {
  host: string
  port: number
  /** Shared secret: `Authorization: Bearer TOKEN`, or Harbor's auth header holding TOKEN as is. */
  token?: string
  /** Called after the 200 has been sent, with the parsed JSON body. */
  onEvents(endpoint: EventEndpoint, body: unknown, headers: http.IncomingHttpHeaders): void
  onDelivery?(endpoint: EventEndpoint, status: number): void
  healthy(): boolean
  metrics(): Promise<{contentType: string; text: string}>
}

export interface Listener {
  /** host:port actually bound (the port is chosen by the OS when 0 was asked for). */
  address: string
  close(): Promise<void>
}

/** `HOST:PORT` (`[::1]:9090` for IPv6) from --listen. Pure. */
export function parseListenAddress(text: string, what = '--listen'): {host: string; port: number} {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim())
  const port = match ? Number(match[3]) : NaN
  if (!match || port > 65535) throw new ConfigError(`${what} ${JSON.stringify(text)} is not HOST:PORT (e.g. 127.0.0.1:9090, 0.0.0.0:9090)`)
  return {host: match[1] ?? (match[2] || '0.0.0.0'), port}
}

/**
 * Does the request carry the token? Both sides are hashed first so the comparison takes the same
 * time whatever the lengths, and `timingSafeEqual` compares the digests in constant time. Pure.
 */
export function tokenMatches(authorization: string | undefined, token: string): boolean {
  const presented = (authorization ?? '').replace(/^Bearer\s+/i, '').trim()
  const a = createHash('sha256').update(presented).digest()
  const b = createHash('sha256').update(token).digest()
  return timingSafeEqual(a, b) && presented.length > 0
}

const ROUTES: Record<string, EventEndpoint> = {'/events/registry': 'registry', '/events/harbor': 'harbor'}

export async function startListener(options: ListenerOptions): Promise<Listener> {
  const server = http.createServer((request, response) => {
    void handle(request, response, options).catch(() => {
      if (!response.headersSent) answer(response, 500, 'internal error\n')
    })
  })
  // A slow sender must not hold a socket forever.
  server.requestTimeout = 30_000
  server.headersTimeout = 10_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new ConfigError(`--listen ${options.host}:${options.port}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : (error.code ?? error.message)}`),
      ),
    )
    server.listen(options.port, options.host, () => resolve())
  })
  const bound = server.address() as AddressInfo
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
  return {
    address: `${host}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      }),
  }
}

async function handle(request: http.IncomingMessage, response: http.ServerResponse, options: ListenerOptions): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://listener')
  if (url.pathname === '/healthz') {
    if (options.healthy()) answer(response, 200, 'ok\n')
    else answer(response, 503, 'stopping\n')
    return
  }
  if (url.pathname === '/metrics') {
    const {contentType, text} = await options.metrics()
    response.writeHead(200, {'Content-Type': contentType})
    response.end(text)
    return
  }
  const endpoint = ROUTES[url.pathname]
  if (!endpoint) return answer(response, 404, 'not found\n')
  const deliver = (status: number, body: string) => {
    options.onDelivery?.(endpoint, status)
    answer(response, status, body, status >= 400)
  }
  if (request.method !== 'POST') return deliver(405, 'POST only\n')
  if (options.token !== undefined && !tokenMatches(request.headers.authorization, options.token)) return deliver(401, 'unauthorized\n')
  const declared = Number(request.headers['content-length'])
  if (Number.isFinite(declared) && declared > MAX_EVENT_BODY) return deliver(413, 'body too large\n')
  const body = await readBody(request, MAX_EVENT_BODY)
  if (body === 'too large') return deliver(413, 'body too large\n')
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    return deliver(400, 'body is not JSON\n')
  }
  deliver(200, 'ok\n')
  // After the answer is on its way: whatever the events lead to never delays the acknowledgement.
  setImmediate(() => options.onEvents(endpoint, parsed, request.headers))
}

function readBody(request: http.IncomingMessage, limit: number): Promise<Buffer | 'too large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        request.removeAllListeners('data')
        request.resume()
        resolve('too large')
        return
      }
      chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks)))
    request.on('error', reject)
  })
}

function answer(response: http.ServerResponse, status: number, body: string, close = false): void {
  // A refused body may still be arriving; closing the connection stops reading it.
  response.writeHead(status, {'Content-Type': 'text/plain; charset=utf-8', ...(close ? {Connection: 'close'} : {})})
  response.end(body)
}
