// A fake Alibaba Cloud Container Registry API on 127.0.0.1: the enterprise edition's RPC API
// (2018-12-01) and the personal edition's ROA API (2016-06-07) on one port, as on
// cr.<region>.aliyuncs.com. Signatures are checked with the test secret, pages are capped
// small, errors come in Alibaba's shapes, and a throttling mode answers Throttling.User.
// The registry side is real: the data names local docker-registry hosts.
import {createHash, createHmac, randomUUID} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

/** namespace → repository → tags */
export type FakeAcrTree = Record<string, Record<string, string[]>>

export interface FakeAcrLogin {
  username: string
  password: string
  /** Lifetime of each issued login; default one hour. */
  ttlMs?: number
}

export interface FakeAcrRegistry {
  /** host[:port] the API names as the registry domain. */
  host: string
  namespaces?: FakeAcrTree
  login: FakeAcrLogin
}

export interface FakeAcrInstance extends FakeAcrRegistry {
  /** false: GetInstanceEndpoint says the internet endpoint is off. */
  internetEnabled?: boolean
}

export interface FakeAcrOptions {
  accessKeyId?: string
  accessKeySecret?: string
  /** The server caps every page at this size, whatever the client asks (default 2). */
  maxPageSize?: number
  instances?: Record<string, FakeAcrInstance>
  personal?: FakeAcrRegistry
  /** Called as each request is answered, before the response leaves. */
  onRequest?: (entry: FakeAcrRequest) => void
}

export interface FakeAcrRequest {
  style: 'rpc' | 'roa'
  /** RPC Action, or the personal edition's action name (GetRepoTags, CreateRepo, …). */
  action: string
  method: string
  path: string
  /** RPC parameters, or the ROA query plus the JSON body's fields. */
  params: Record<string, unknown>
  status: number
  /** The error code answered, if any. */
  code?: string
}

interface RepoState {
  id: string
  tags: string[]
  createdBy?: 'api'
}

interface RegistryState {
  host: string
  login: FakeAcrLogin
  namespaces: Map<string, Map<string, RepoState>>
  internetEnabled: boolean
}

export interface FakeAcr {
  /** http://127.0.0.1:PORT, for FERRY_ENDPOINT_ACR. */
  endpoint: string
  requests: FakeAcrRequest[]
  /** The next `count` requests whose action matches answer Throttling.User. */
  throttle(count: number, action?: string | RegExp): void
  /** The next `count` requests whose action matches fail with `code` (HTTP 400). */
  fail(count: number, action: string | RegExp, code: string): void
  count(action: string | RegExp, filter?: {status?: number}): number
  /** Namespace → repository names, as the fake holds them now. */
  tree(instance?: string): Record<string, string[]>
  stop(): Promise<void>
}

export const FAKE_ACCESS_KEY_ID = 'LTAI5tFerryFakeKeyId01'
export const FAKE_ACCESS_KEY_SECRET = 'fake-acr-secret-do-not-leak'

export async function startFakeAcr(options: FakeAcrOptions): Promise<FakeAcr> {
  const accessKeyId = options.accessKeyId ?? FAKE_ACCESS_KEY_ID
  const accessKeySecret = options.accessKeySecret ?? FAKE_ACCESS_KEY_SECRET
  const maxPage = options.maxPageSize ?? 2
  const requests: FakeAcrRequest[] = []
  const injections: {remaining: number; action?: string | RegExp; code: string}[] = []
  let repoCounter = 0

  const load = (registry: FakeAcrRegistry, internetEnabled = true): RegistryState => {
    const namespaces = new Map<string, Map<string, RepoState>>()
    for (const [namespace, repos] of Object.entries(registry.namespaces ?? {})) {
      const map = new Map<string, RepoState>()
      for (const [name, tags] of Object.entries(repos)) map.set(name, {id: `crr-${String(++repoCounter).padStart(12, '0')}`, tags: [...tags]})
      namespaces.set(namespace, map)
    }
    return {host: registry.host, login: registry.login, namespaces, internetEnabled}
  }
  const instances = new Map(Object.entries(options.instances ?? {}).map(([id, instance]) => [id, load(instance, instance.internetEnabled ?? true)]))
  const personal = options.personal ? load(options.personal) : undefined

  /** The error code an injected failure answers this request with, if any. */
  const injected = (action: string): string | undefined => {
    const rule = injections.find((candidate) => candidate.remaining > 0 && matches(action, candidate.action))
    if (!rule) return undefined
    rule.remaining--
    return rule.code
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const url = new URL(req.url ?? '/', 'http://fake')
      const isRpc = url.pathname === '/' && (url.searchParams.has('Action') || req.method === 'POST')
      const answer = isRpc ? handleRpc(req, url, body) : handleRoa(req, url, body)
      const entry: FakeAcrRequest = {
        style: isRpc ? 'rpc' : 'roa',
        action: answer.action,
        method: req.method ?? '',
        path: url.pathname,
        params: answer.params,
        status: answer.status,
        code: answer.code,
      }
      requests.push(entry)
      options.onRequest?.(entry)
      res.writeHead(answer.status, {'content-type': 'application/json;charset=utf-8', 'x-acs-request-id': answer.requestId})
      res.end(JSON.stringify(answer.body))
    })
  })

  interface Answer {
    action: string
    params: Record<string, unknown>
    status: number
    body: unknown
    code?: string
    requestId: string
  }

  // ---- enterprise edition: RPC ----

  function handleRpc(req: http.IncomingMessage, url: URL, body: Buffer): Answer {
    const params: Record<string, string> = {}
    for (const [key, value] of url.searchParams) params[key] = value
    if (req.method === 'POST') for (const [key, value] of new URLSearchParams(body.toString('utf8'))) params[key] = value
    const action = params.Action ?? ''
    const requestId = randomUUID().toUpperCase()
    const fail = (status: number, code: string, message: string): Answer => ({
      action,
      params,
      status,
      code,
      requestId,
      body: {
        RequestId: requestId,
        HostId: 'cr.cn-hangzhou.aliyuncs.com',
        Code: code,
        Message: message,
        Recommend: `https://api.aliyun.com/troubleshoot?q=${code}`,
      },
    })
    const ok = (fields: Record<string, unknown>): Answer => ({
      action,
      params,
      status: 200,
      requestId,
      body: {...fields, Code: 'success', IsSuccess: true, RequestId: requestId},
    })

    if (req.headers['x-acs-action'] !== action) return fail(400, 'MissingParameter', 'x-acs-action does not match Action')
    if (params.Version !== '2018-12-01') return fail(400, 'InvalidVersion', `Specified parameter Version is not valid.`)
    if (params.AccessKeyId !== accessKeyId) return fail(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.')
    const {Signature: signature, ...signed} = params
    const canonical = Object.keys(signed)
      .sort()
      .map((key) => `${rfc3986(key)}=${rfc3986(signed[key] ?? '')}`)
      .join('&')
    const stringToSign = `${req.method}&${rfc3986('/')}&${rfc3986(canonical)}`
    const expected = createHmac('sha1', `${accessKeySecret}&`).update(stringToSign).digest('base64')
    if (signature !== expected) {
      // The real service quotes its string to sign (AccessKeyId included): ferry must never echo it.
      return fail(400, 'SignatureDoesNotMatch', `Specified signature is not matched with our calculation. server string to sign is:${stringToSign}`)
    }
    const injectedCode = injected(action)
    if (injectedCode)
      return fail(400, injectedCode, injectedCode.startsWith('Throttling') ? 'Request was denied due to user flow control.' : 'injected failure')

    const instance = instances.get(params.InstanceId ?? '')
    if (!instance) return fail(404, 'INSTANCE_NOT_EXIST', 'instance not exist')
    const page = paging(params.PageNo, params.PageSize)

    switch (action) {
      case 'GetInstanceEndpoint':
        return ok({
          Enable: instance.internetEnabled,
          Status: instance.internetEnabled ? 'RUNNING' : 'STOPPED',
          Domains: [{Domain: instance.host, Type: 'SYSTEM'}],
          AclEnable: false,
          AclEntries: [],
        })
      case 'ListNamespace': {
        const all = [...instance.namespaces.keys()].sort()
        return ok({
          ...page.header(all.length),
          Namespaces: page.slice(all).map((name, i) => ({
            NamespaceName: name,
            NamespaceId: `crn-${i}`,
            NamespaceStatus: 'NORMAL',
            AutoCreateRepo: true,
            DefaultRepoType: 'PRIVATE',
            InstanceId: params.InstanceId,
          })),
        })
      }
      case 'ListRepository': {
        if (params.RepoStatus !== 'ALL') return fail(400, 'InvalidParameter', 'the fake expects RepoStatus ALL')
        const wanted = params.RepoNamespaceName
        const all = [...instance.namespaces.entries()]
          .filter(([namespace]) => !wanted || namespace === wanted)
          .flatMap(([namespace, repos]) => [...repos.entries()].map(([name, repo]) => ({namespace, name, repo})))
          .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`))
        return ok({
          ...page.header(all.length),
          Repositories: page.slice(all).map(({namespace, name, repo}) => ({
            RepoId: repo.id,
            RepoName: name,
            RepoNamespaceName: namespace,
            RepoStatus: 'NORMAL',
            RepoType: 'PRIVATE',
            RepoBuildType: 'MANUAL',
            InstanceId: params.InstanceId,
            Summary: '',
            CreateTime: 1704067200000,
            ModifiedTime: 1704067200000,
          })),
        })
      }
      case 'ListRepoTag': {
        const repo = [...instance.namespaces.values()].flatMap((repos) => [...repos.values()]).find((candidate) => candidate.id === params.RepoId)
        if (!repo) return fail(404, 'REPO_NOT_EXIST', 'repo not exist')
        return ok({
          ...page.header(repo.tags.length),
          Images: page.slice(repo.tags).map((tag) => ({
            Tag: tag,
            Digest: createHash('sha256').update(tag).digest('hex'),
            ImageId: createHash('sha256').update(`id${tag}`).digest('hex'),
            ImageSize: 1024,
            ImageCreate: '1704067200000',
            ImageUpdate: '1704067200000',
            Status: 'NORMAL',
          })),
        })
      }
      case 'CreateNamespace': {
        const name = params.NamespaceName ?? ''
        if (!name) return fail(400, 'MissingParameter', 'NamespaceName')
        if (instance.namespaces.has(name)) return fail(400, 'NAMESPACE_ALREADY_EXIST', 'namespace already exist')
        instance.namespaces.set(name, new Map())
        return ok({})
      }
      case 'CreateRepository': {
        const namespace = instance.namespaces.get(params.RepoNamespaceName ?? '')
        if (!namespace) return fail(404, 'NAMESPACE_NOT_EXIST', 'namespace not exist')
        if (params.RepoType !== 'PRIVATE' && params.RepoType !== 'PUBLIC') return fail(400, 'InvalidParameter', 'RepoType')
        if (!params.Summary) return fail(400, 'MissingParameter', 'Summary')
        const name = params.RepoName ?? ''
        if (namespace.has(name)) return fail(400, 'REPO_ALREADY_EXIST', 'repo already exist')
        const id = `crr-${String(++repoCounter).padStart(12, '0')}`
        namespace.set(name, {id, tags: [], createdBy: 'api'})
        return ok({RepoId: id})
      }
      case 'GetAuthorizationToken':
        return ok({
          TempUsername: instance.login.username,
          AuthorizationToken: instance.login.password,
          ExpireTime: Date.now() + (instance.login.ttlMs ?? 3_600_000),
        })
      default:
        return fail(404, 'InvalidAction.NotFound', `Specified api is not found, please check your url and method.`)
    }
  }

  // ---- personal edition: ROA ----

  function handleRoa(req: http.IncomingMessage, url: URL, body: Buffer): Answer {
    const method = req.method ?? 'GET'
    const route = roaRoute(method, url.pathname)
    const query: Record<string, string> = {}
    for (const [key, value] of url.searchParams) query[key] = value
    let json: Record<string, unknown> = {}
    if (body.length > 0) {
      try {
        json = JSON.parse(body.toString('utf8')) as Record<string, unknown>
      } catch {
        json = {}
      }
    }
    const params = {...query, ...json}
    const requestId = randomUUID().toUpperCase()
    const action = route?.action ?? `${method} ${url.pathname}`
    // Gateway errors come in the capitalised shape, the service's own in lowercase.
    const gateway = (status: number, code: string, message: string): Answer => ({
      action,
      params,
      status,
      code,
      requestId,
      body: {Code: code, Message: message, RequestId: requestId},
    })
    const fail = (status: number, code: string, message: string): Answer => ({action, params, status, code, requestId, body: {code, message, requestId}})
    const ok = (data: unknown): Answer => ({action, params, status: 200, requestId, body: {data}})

    const authorization = String(req.headers.authorization ?? '')
    const match = /^acs ([^:]+):(.+)$/.exec(authorization)
    if (!match) return gateway(400, 'MissingAuthorization', 'Authorization header is missing')
    if (match[1] !== accessKeyId) return gateway(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.')
    if (req.headers['x-acs-version'] !== '2016-06-07') return gateway(400, 'InvalidVersion', 'x-acs-version')
    const md5 = createHash('md5').update(body).digest('base64')
    if (req.headers['content-md5'] !== md5) return gateway(400, 'InvalidContentMD5', 'Content-MD5 does not match the body')
    const stringToSign = roaStringToSign(method, req.headers, url)
    const expected = createHmac('sha1', accessKeySecret).update(stringToSign, 'utf8').digest('base64')
    if (match[2] !== expected) {
      return gateway(
        400,
        'SignatureDoesNotMatch',
        `Specified signature is not matched with our calculation. server string to sign is:${stringToSign.replace(/\n/g, '#')}`,
      )
    }
    const injectedCode = route ? injected(route.action) : undefined
    if (injectedCode)
      return gateway(400, injectedCode, injectedCode.startsWith('Throttling') ? 'Request was denied due to user flow control.' : 'injected failure')
    if (!route) return gateway(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.')
    if (!personal) return fail(403, 'USER_NOT_EXIST', 'the personal edition is not activated for this account')
    const page = paging(query.Page, query.PageSize)

    switch (route.action) {
      case 'GetNamespaceList':
        return ok({
          namespaces: [...personal.namespaces.keys()].sort().map((namespace) => ({namespace, authorizeType: 'ADMIN', namespaceStatus: 'NORMAL'})),
        })
      case 'CreateNamespace': {
        const name = String((json.Namespace as Record<string, unknown> | undefined)?.Namespace ?? '')
        if (!name) return fail(400, 'PARAM_INVALID', 'Namespace.Namespace is missing')
        if (personal.namespaces.has(name)) return fail(400, 'NAMESPACE_ALREADY_EXIST', 'namespace already exist')
        personal.namespaces.set(name, new Map())
        return ok({namespaceId: personal.namespaces.size})
      }
      case 'GetRepoListByNamespace': {
        const namespace = route.params[0] ?? ''
        const repos = personal.namespaces.get(namespace)
        if (!repos) return fail(404, 'NAMESPACE_NOT_EXIST', 'namespace not exist')
        const all = [...repos.entries()].sort(([a], [b]) => a.localeCompare(b))
        return ok({
          page: page.number,
          pageSize: page.size,
          total: all.length,
          repos: page.slice(all).map(([name, repo]) => ({
            repoNamespace: namespace,
            repoName: name,
            repoId: Number(repo.id.slice(4)),
            repoType: 'PRIVATE',
            repoStatus: 'NORMAL',
            repoBuildType: 'MANUAL',
            summary: '',
            regionId: 'cn-hangzhou',
            repoDomainList: {public: personal.host, internal: `internal.${personal.host}`, vpc: `vpc.${personal.host}`},
          })),
        })
      }
      case 'CreateRepo': {
        const repo = (json.Repo ?? {}) as Record<string, unknown>
        const namespace = personal.namespaces.get(String(repo.RepoNamespace ?? ''))
        if (!namespace) return fail(404, 'NAMESPACE_NOT_EXIST', 'namespace not exist')
        const name = String(repo.RepoName ?? '')
        if (!name || name.includes('/')) return fail(400, 'REPO_NAME_INVALID', 'repo name invalid')
        if (!repo.Summary || (repo.RepoType !== 'PRIVATE' && repo.RepoType !== 'PUBLIC')) return fail(400, 'PARAM_INVALID', 'Summary and RepoType are required')
        if (namespace.has(name)) return fail(400, 'REPO_ALREADY_EXIST', 'repo already exist')
        namespace.set(name, {id: `crr-${String(++repoCounter).padStart(12, '0')}`, tags: [], createdBy: 'api'})
        return ok({repoId: repoCounter})
      }
      case 'GetRepoTags': {
        const [namespace = '', name = ''] = route.params
        const repo = personal.namespaces.get(namespace)?.get(name)
        if (!repo) return fail(404, 'REPO_NOT_EXIST', 'repo not exist')
        return ok({
          page: page.number,
          pageSize: page.size,
          total: repo.tags.length,
          tags: page.slice(repo.tags).map((tag) => ({
            tag,
            digest: createHash('sha256').update(tag).digest('hex'),
            imageId: createHash('sha256').update(`id${tag}`).digest('hex'),
            imageSize: 1024,
            imageCreate: 1704067200000,
            imageUpdate: 1704067200000,
            status: 'NORMAL',
          })),
        })
      }
      case 'GetAuthorizationToken':
        return ok({
          authorizationToken: personal.login.password,
          tempUserName: personal.login.username,
          expireDate: Date.now() + (personal.login.ttlMs ?? 3_600_000),
        })
      default:
        return gateway(404, 'InvalidAction.NotFound', 'Specified api is not found')
    }
  }

  function paging(pageText: string | undefined, sizeText: string | undefined) {
    const number = Math.max(1, Number(pageText) || 1)
    const size = Math.min(maxPage, Math.max(1, Number(sizeText) || 30))
    return {
      number,
      size,
      slice: <T>(all: T[]): T[] => all.slice((number - 1) * size, number * size),
      // TotalCount is a string in the real answers: the fake keeps that trap.
      header: (total: number) => ({PageNo: number, PageSize: size, TotalCount: String(total)}),
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    throttle(count, action) {
      injections.push({remaining: count, action, code: 'Throttling.User'})
    },
    fail(count, action, code) {
      injections.push({remaining: count, action, code})
    },
    count(action, filter = {}) {
      return requests.filter((entry) => matches(entry.action, action) && (filter.status === undefined || entry.status === filter.status)).length
    },
    tree(instance) {
      const state = instance ? instances.get(instance) : personal
      const out: Record<string, string[]> = {}
      for (const [namespace, repos] of state?.namespaces ?? []) out[namespace] = [...repos.keys()].sort()
      return out
    },
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function matches(action: string, filter: string | RegExp | undefined): boolean {
  if (filter === undefined) return true
  return typeof filter === 'string' ? action === filter : filter.test(action)
}

function roaRoute(method: string, path: string): {action: string; params: string[]} | undefined {
  const parts = path
    .split('/')
    .filter(Boolean)
    .map((part) => decodeURIComponent(part))
  if (method === 'GET' && path === '/namespace') return {action: 'GetNamespaceList', params: []}
  if (method === 'PUT' && path === '/namespace') return {action: 'CreateNamespace', params: []}
  if (method === 'GET' && path === '/tokens') return {action: 'GetAuthorizationToken', params: []}
  if (method === 'PUT' && path === '/repos') return {action: 'CreateRepo', params: []}
  if (method === 'GET' && parts[0] === 'repos' && parts.length === 2) return {action: 'GetRepoListByNamespace', params: [parts[1]!]}
  if (method === 'GET' && parts[0] === 'repos' && parts.length === 4 && parts[3] === 'tags') return {action: 'GetRepoTags', params: [parts[1]!, parts[2]!]}
  return undefined
}

/** The ROA string to sign, rebuilt from what arrived (PROVIDER-APIS.md §3). */
function roaStringToSign(method: string, headers: http.IncomingHttpHeaders, url: URL): string {
  const header = (name: string) => {
    const value = headers[name]
    return Array.isArray(value) ? value.join(',') : (value ?? '')
  }
  const acs = Object.keys(headers)
    .filter((name) => name.startsWith('x-acs-'))
    .sort()
    .map(
      (name) =>
        `${name}:${header(name)
          .replace(/[\t\n\r\f]/g, ' ')
          .trim()}\n`,
    )
    .join('')
  const keys = [...new Set(url.searchParams.keys())].sort()
  const resource = keys.length === 0 ? url.pathname : `${url.pathname}?${keys.map((key) => `${key}=${url.searchParams.get(key) ?? ''}`).join('&')}`
  return `${method}\n${header('accept')}\n${header('content-md5')}\n${header('content-type')}\n${header('date')}\n${acs}${resource}`
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}
