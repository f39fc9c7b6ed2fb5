// A fake Huawei Cloud SWR management API on 127.0.0.1, as on swr-api.<region>.myhuaweicloud.com:
// the SDK-HMAC-SHA256 signature is checked with the test key, listings are bare JSON arrays paged
// with Content-Range (pages capped small), errors come in the API gateway's shapes, and a
// throttling mode answers APIG.0308. The registry side is real: tests pass local registry hosts.
import {createHash, createHmac, randomUUID} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

/** organization → repository (may hold '/') → tags, oldest first (each one's update time is later than the one before). */
export type FakeSwrTree = Record<string, Record<string, string[]>>

export interface FakeSwrOptions {
  ak?: string
  sk?: string
  /** When set, every request must carry it as X-Project-Id. */
  projectId?: string
  /** The server caps every page at this size, whatever the client asks (default 2). */
  maxPageSize?: number
  organizations?: FakeSwrTree
  /** Called as each request is answered, before the response leaves. */
  onRequest?: (entry: FakeSwrRequest) => void
}

export interface FakeSwrRequest {
  /** ListNamespaces, CreateNamespace, ListReposDetails, ListRepositoryTags, or the method and path. */
  action: string
  method: string
  path: string
  query: Record<string, string>
  body?: unknown
  status: number
  code?: string
  /** The Authorization header as sent, for tests that prove it never reaches output. */
  authorization?: string
}

export interface FakeSwr {
  /** http://127.0.0.1:PORT, for FERRY_ENDPOINT_SWR. */
  endpoint: string
  requests: FakeSwrRequest[]
  /** The next `count` requests whose action matches answer 429 APIG.0308. */
  throttle(count: number, action?: string | RegExp): void
  /** The next `count` requests whose action matches fail with this status and gateway code (a legacy SWR body when `code` is undefined). */
  fail(count: number, action: string | RegExp, status: number, code?: string): void
  count(action: string | RegExp, filter?: {status?: number}): number
  /** Organization → repository names, as the fake holds them now. */
  tree(): Record<string, string[]>
  stop(): Promise<void>
}

export const FAKE_SWR_AK = 'HPUAFERRYFAKEAK0001'
export const FAKE_SWR_SK = 'fake-swr-sk-do-not-leak-0123456789'
export const FAKE_SWR_PROJECT = '0a1b2c3d4e5f60718293a4b5c6d7e8f9'

const BASE_TIME = Date.parse('2026-01-01T00:00:00Z')

export async function startFakeSwr(options: FakeSwrOptions = {}): Promise<FakeSwr> {
  const ak = options.ak ?? FAKE_SWR_AK
  const sk = options.sk ?? FAKE_SWR_SK
  const maxPage = options.maxPageSize ?? 2
  const requests: FakeSwrRequest[] = []
  const injections: {remaining: number; action?: string | RegExp; status: number; code?: string}[] = []
  const organizations = new Map<string, Map<string, string[]>>()
  for (const [organization, repositories] of Object.entries(options.organizations ?? {})) {
    organizations.set(organization, new Map(Object.entries(repositories).map(([name, tags]) => [name, [...tags]])))
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const url = new URL(req.url ?? '/', 'http://fake')
      const query = Object.fromEntries(url.searchParams)
      const route = routeOf(req.method ?? '', url.pathname)
      const requestId = randomUUID().replaceAll('-', '')
      let answer: {status: number; body?: unknown; code?: string; headers?: Record<string, string>}
      const refusal = checkSignature(req, url, raw)
      const rule = refusal ? undefined : injections.find((candidate) => candidate.remaining > 0 && matches(route.action, candidate.action))
      if (refusal) answer = refusal
      else if (rule) {
        rule.remaining--
        answer = rule.code
          ? {status: rule.status, code: rule.code, body: {error_code: rule.code, error_msg: 'injected failure', request_id: requestId}}
          : {status: rule.status, body: {errors: [{errorCode: 'SVCSTG.SWR.4000000', errorMessage: 'injected failure'}]}}
      } else answer = route.handle(query, raw)
      let body: unknown
      try {
        body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined
      } catch {
        body = raw.toString('utf8')
      }
      const entry: FakeSwrRequest = {
        action: route.action,
        method: req.method ?? '',
        path: url.pathname,
        query,
        body,
        status: answer.status,
        code: answer.code,
        authorization: req.headers.authorization,
      }
      requests.push(entry)
      options.onRequest?.(entry)
      const text = answer.body === undefined ? '' : JSON.stringify(answer.body)
      res.writeHead(answer.status, {'content-type': 'application/json;charset=utf-8', 'x-request-id': requestId, ...answer.headers})
      res.end(text)
    })
  })

  /** SDK-HMAC-SHA256: SigV4's canonical request (the path always ending in '/'), HMAC-SHA256 with the SK over algorithm, date and its hash. */
  function checkSignature(req: http.IncomingMessage, url: URL, body: Buffer): {status: number; body: unknown; code: string} | undefined {
    const fail = (code: string, message: string) => ({status: 401, code, body: {error_code: code, error_msg: message, request_id: randomUUID()}})
    const header = req.headers.authorization ?? ''
    const match = /^SDK-HMAC-SHA256 Access=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(header)
    if (!match) return fail('APIGW.0301', 'Incorrect IAM authentication information: Authorization header malformed')
    const [, access, signed, signature] = match as unknown as [string, string, string, string]
    if (access !== ak) return fail('APIGW.0301', 'Incorrect IAM authentication information: AK not found')
    const date = req.headers['x-sdk-date']
    if (typeof date !== 'string' || !signed.split(';').includes('x-sdk-date') || !signed.split(';').includes('host')) {
      return fail('APIGW.0301', 'Incorrect IAM authentication information: x-sdk-date and host must be signed')
    }
    if (options.projectId && req.headers['x-project-id'] !== options.projectId) return fail('APIGW.0301', 'Incorrect IAM authentication information: project')
    const path = url.pathname
      .split('/')
      .map((segment) => rfc3986(decodeURIComponent(segment)))
      .join('/')
    const canonicalPath = path.endsWith('/') ? path : `${path}/`
    const canonicalQuery = [...url.searchParams.keys()]
      .sort()
      .map((key) => `${rfc3986(key)}=${rfc3986(url.searchParams.get(key) ?? '')}`)
      .join('&')
    const names = signed.split(';')
    const canonicalHeaders = names.map((name) => `${name}:${String(req.headers[name] ?? '').trim()}\n`).join('')
    const canonical = [req.method, canonicalPath, canonicalQuery, canonicalHeaders, signed, sha256(body)].join('\n')
    const expected = createHmac('sha256', sk)
      .update(['SDK-HMAC-SHA256', date, sha256(Buffer.from(canonical))].join('\n'))
      .digest('hex')
    if (expected !== signature) return fail('APIGW.0301', 'Incorrect IAM authentication information: verify aksk signature fail')
    return undefined
  }

  interface Route {
    action: string
    handle(query: Record<string, string>, body: Buffer): {status: number; body?: unknown; code?: string; headers?: Record<string, string>}
  }

  function routeOf(method: string, path: string): Route {
    if (path === '/v2/manage/namespaces' && method === 'GET') {
      return {
        action: 'ListNamespaces',
        handle: () => ({
          status: 200,
          body: {namespaces: [...organizations.keys()].map((name, index) => ({id: index + 1, name, creator_name: 'ferry', auth: 7}))},
        }),
      }
    }
    if (path === '/v2/manage/namespaces' && method === 'POST') {
      return {
        action: 'CreateNamespace',
        handle: (_query, raw) => {
          const name = (JSON.parse(raw.toString('utf8') || '{}') as {namespace?: unknown}).namespace
          if (typeof name !== 'string' || !/^[a-z][a-z0-9._-]{0,63}$/.test(name)) return swrFailure(400, 'SVCSTG.SWR.4001002', 'invalid namespace')
          // SWR's own errors come in its legacy shape: the SDK keeps only the status.
          if (organizations.has(name)) return swrFailure(409, 'SVCSTG.SWR.4091002', 'Namespace already exists')
          organizations.set(name, new Map())
          return {status: 201}
        },
      }
    }
    if (path === '/v2/manage/repos' && method === 'GET') {
      return {
        action: 'ListReposDetails',
        handle: (query) => {
          const all = [...organizations.entries()]
            .filter(([organization]) => !query.namespace || organization === query.namespace)
            .flatMap(([organization, repos]) =>
              [...repos.entries()].map(([name, tags]) => ({
                name,
                namespace: organization,
                category: 'other',
                num_images: tags.length,
                tags,
                updated_at: new Date(BASE_TIME).toISOString(),
              })),
            )
          return paged(all, query)
        },
      }
    }
    const tags = /^\/v2\/manage\/namespaces\/([^/]+)\/repos\/([^/]+)\/tags$/.exec(path)
    if (tags && method === 'GET') {
      return {
        action: 'ListRepositoryTags',
        handle: (query) => {
          const organization = decodeURIComponent(tags[1]!)
          // The management API carries a '/' in a repository name as '$'.
          const repository = decodeURIComponent(tags[2]!).replaceAll('$', '/')
          const list = organizations.get(organization)?.get(repository)
          if (!list) return swrFailure(404, 'SVCSTG.SWR.4040002', 'Repository not found')
          return paged(
            list.map((tag, index) => {
              const time = new Date(BASE_TIME + index * 60_000).toISOString()
              return {Tag: tag, digest: '', updated: time, created: time, tag_type: 0}
            }),
            query,
          )
        },
      }
    }
    return {action: `${method} ${path}`, handle: () => swrFailure(404, 'SVCSTG.SWR.4040000', 'not found')}
  }

  return {
    endpoint: await listen(server),
    requests,
    throttle(count, action) {
      injections.push({remaining: count, action, status: 429, code: 'APIG.0308'})
    },
    fail(count, action, status, code) {
      injections.push({remaining: count, action, status, code})
    },
    count(action, filter = {}) {
      return requests.filter((entry) => matches(entry.action, action) && (filter.status === undefined || entry.status === filter.status)).length
    },
    tree() {
      return Object.fromEntries([...organizations.entries()].map(([organization, repos]) => [organization, [...repos.keys()].sort()]))
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }

  function paged(items: unknown[], query: Record<string, string>) {
    const offset = Number(query.offset ?? 0)
    const limit = Math.min(Number(query.limit ?? 100), maxPage)
    const page = items.slice(offset, offset + limit)
    const end = page.length === 0 ? offset : offset + page.length - 1
    return {status: 200, body: page, headers: {'content-range': `${offset}-${end}/${items.length}`}}
  }
}

function swrFailure(status: number, code: string, message: string) {
  return {status, code, body: {errors: [{errorCode: code, errorMessage: message}]}}
}

function matches(action: string, pattern: string | RegExp | undefined): boolean {
  if (pattern === undefined) return true
  return typeof pattern === 'string' ? action === pattern : pattern.test(action)
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))
  })
}
