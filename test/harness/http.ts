// A deliberately small registry HTTP client for the harness.
//
// It must stay independent of src/: seeding and checking images with the code
// under test would let a bug confirm itself. node:http(s) rather than global
// fetch because fetch cannot be given a CA without importing undici.
import http from 'node:http'
import https from 'node:https'

/** What the harness needs to reach a registry; TestRegistry satisfies it. */
export interface Endpoint {
  url: string
  caPem?: string
  username?: string
  password?: string
}

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

export interface RequestOptions {
  headers?: Record<string, string>
  body?: Buffer | string
  timeoutMs?: number
}

/** One HTTP exchange, no auth handling. `target` is a path or absolute URL. */
export function rawRequest(endpoint: Pick<Endpoint, 'url' | 'caPem'>, method: string, target: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const url = new URL(target, endpoint.url)
  const body = options.body === undefined ? undefined : Buffer.from(options.body)
  const headers: Record<string, string> = {'user-agent': 'ferry-test-harness', ...options.headers}
  if (body !== undefined) headers['content-length'] = String(body.length)
  const transport = url.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const req = transport.request(url, {method, headers, ca: endpoint.caPem, timeout: options.timeoutMs ?? 30_000}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks)}))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.href}: timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

interface Challenge {
  scheme: string
  params: Record<string, string>
}

export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (header === undefined) return undefined
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header)
  if (!match) return undefined
  const params: Record<string, string> = {}
  for (const m of (match[2] ?? '').matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[(m[1] ?? '').toLowerCase()] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1')
  }
  return {scheme: (match[1] ?? '').toLowerCase(), params}
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

/**
 * Answers auth challenges the way Docker clients do: Basic with the
 * endpoint's credentials, or Bearer by fetching a token from the challenge's
 * realm. Tokens are cached per scope.
 */
export class RegistryClient {
  private mode: 'unknown' | 'none' | 'basic' | 'bearer' = 'unknown'
  private readonly tokens = new Map<string, string>()

  constructor(readonly endpoint: Endpoint) {}

  /**
   * `scope` (e.g. `repository:a/b:pull,push`) is what a token is asked for
   * when challenged; asking for push up front saves a second token round trip
   * when a HEAD (pull) is followed by an upload (push).
   */
  async request(method: string, target: string, options: RequestOptions & {scope?: string} = {}): Promise<HttpResponse> {
    const cacheKey = options.scope ?? ''
    const withAuth = (authorization: string | undefined): RequestOptions => ({
      ...options,
      headers: {...options.headers, ...(authorization ? {authorization} : {})},
    })
    let authorization = this.currentAuthorization(cacheKey)
    let res = await rawRequest(this.endpoint, method, target, withAuth(authorization))
    if (res.status !== 401) return res

    const challenge = parseChallenge(res.headers['www-authenticate'] as string | undefined)
    if (challenge?.scheme === 'basic') {
      this.mode = 'basic'
      authorization = this.basicAuthorization()
    } else if (challenge?.scheme === 'bearer') {
      this.mode = 'bearer'
      const token = await this.fetchToken(challenge.params, options.scope ?? challenge.params.scope)
      this.tokens.set(cacheKey, token)
      authorization = `Bearer ${token}`
    } else {
      return res
    }
    res = await rawRequest(this.endpoint, method, target, withAuth(authorization))
    return res
  }

  private currentAuthorization(cacheKey: string): string | undefined {
    if (this.mode === 'basic') return this.basicAuthorization()
    if (this.mode === 'bearer') {
      const token = this.tokens.get(cacheKey)
      return token === undefined ? undefined : `Bearer ${token}`
    }
    return undefined
  }

  private basicAuthorization(): string | undefined {
    const {username, password} = this.endpoint
    return username === undefined ? undefined : basic(username, password ?? '')
  }

  private async fetchToken(params: Record<string, string>, scope: string | undefined): Promise<string> {
    const realm = params.realm
    if (!realm) throw new Error('Bearer challenge without realm')
    const url = new URL(realm)
    if (params.service) url.searchParams.set('service', params.service)
    for (const s of (scope ?? '').split(' ').filter((x) => x !== '')) url.searchParams.append('scope', s)
    const headers: Record<string, string> = {}
    const authorization = this.basicAuthorization()
    if (authorization) headers.authorization = authorization
    const res = await rawRequest(this.endpoint, 'GET', url.href, {headers})
    if (res.status !== 200) {
      throw new Error(`token request ${url.href}: HTTP ${res.status} ${res.body.toString('utf8')}`)
    }
    const json = JSON.parse(res.body.toString('utf8')) as {token?: string; access_token?: string}
    const token = json.token ?? json.access_token
    if (!token) throw new Error(`token response without token: ${res.body.toString('utf8')}`)
    return token
  }
}

const clients = new WeakMap<Endpoint, RegistryClient>()

/** One client per endpoint object, so tokens are reused across helper calls. */
export function clientFor(endpoint: Endpoint): RegistryClient {
  let client = clients.get(endpoint)
  if (client === undefined) {
    client = new RegistryClient(endpoint)
    clients.set(endpoint, client)
  }
  return client
}

export function expectStatus(res: HttpResponse, expected: number[], what: string): void {
  if (!expected.includes(res.status)) {
    throw new Error(`${what}: HTTP ${res.status} (expected ${expected.join('/')}) ${res.body.toString('utf8').slice(0, 500)}`)
  }
}
