// A fake Tencent Cloud tcr API (2019-09-24) for the real tencentcloud-sdk-nodejs: `POST /` routed
// on X-TC-Action, TC3-HMAC-SHA256 checked, errors in the HTTP-200 {"Response":{"Error":…}} shape,
// Offset/Limit paging with a small server-side page size, a throttling mode and a request log.
// Registries stay real: CCR's `Server` and each TCR instance's `PublicDomain` are local
// docker-registry hosts, and CreateInstanceToken hands out the login their htpasswd accepts.
import {createHash, createHmac, randomUUID, timingSafeEqual} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

export interface FakeCcrTag {
  name: string
  /** `YYYY-MM-DD HH:MM:SS`, as CCR writes it. */
  pushTime: string
}

export interface FakeCcrRepository {
  /** `namespace/name` */
  name: string
  tags: FakeCcrTag[]
}

export interface FakeTcrInstance {
  id: string
  name: string
  region: string
  /** host:port of the local registry standing in for `<name>.tencentcloudcr.com`. */
  publicDomain: string
  status?: string
  /** Namespaces that exist before the run. */
  namespaces?: string[]
}

export interface FakeTcrOptions {
  secretId?: string
  secretKey?: string
  /** The personal edition (any region answers with it). */
  ccr?: {server: string; namespaces: string[]; repositories: FakeCcrRepository[]}
  instances?: FakeTcrInstance[]
  /** What CreateInstanceToken answers; the destination registry's htpasswd holds the same pair. */
  login?: {username: string; token: string; ttlSeconds?: number}
  /** Items per page whatever Limit asks (real APIs cap Limit too): small, so paging really happens. */
  pageSize?: number
}

export interface FakeTcrRequest {
  action: string
  region?: string
  params: Record<string, any>
  /** Error.Code of the answer, when it was an error. */
  error?: string
  at: number
}

export interface FakeTcr {
  /** `http://127.0.0.1:PORT`, for FERRY_ENDPOINT_TCR. */
  url: string
  secretId: string
  secretKey: string
  requests: FakeTcrRequest[]
  count(action: string, filter?: {error?: string | null}): number
  /** Answer the next `times` calls of `action` with RequestLimitExceeded. */
  throttle(action: string, times: number): void
  /** The instance's namespaces now. */
  namespaces(instanceId: string): string[]
  /** Names passed to CreateNamespace that succeeded, in order. */
  created(instanceId: string): string[]
  stop(): Promise<void>
}

class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

const VERSION = '2019-09-24'
const NAMESPACE_RULE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/

export async function startFakeTcr(options: FakeTcrOptions = {}): Promise<FakeTcr> {
  const secretId = options.secretId ?? 'AKIDferrytest0000000000000000000000'
  const secretKey = options.secretKey ?? 'ferry-fake-secret-key-0123456789ab'
  const pageSize = options.pageSize ?? 7
  const requests: FakeTcrRequest[] = []
  const throttled = new Map<string, number>()
  const instances = (options.instances ?? []).map((instance) => ({
    ...instance,
    namespaces: new Map((instance.namespaces ?? []).map((name, index) => [name, index + 1])),
    created: [] as string[],
  }))

  const page = <T>(items: T[], offset: unknown, limit: unknown, byPage = false) => {
    const size = Math.max(1, Math.min(pageSize, typeof limit === 'number' && limit > 0 ? limit : 20))
    const start = Math.max(0, typeof offset === 'number' ? offset : 0) * (byPage ? size : 1)
    return items.slice(start, start + size)
  }
  const instanceById = (id: unknown) => {
    const found = instances.find((instance) => instance.id === id)
    if (!found) throw new ApiError('ResourceNotFound', `instance ${String(id)} does not exist`)
    return found
  }

  const actions: Record<string, (params: Record<string, any>, region: string | undefined) => Record<string, unknown>> = {
    DescribeNamespacePersonal(params) {
      const ccr = requireCcr()
      for (const field of ['Namespace', 'Limit', 'Offset']) if (params[field] === undefined) throw new ApiError('MissingParameter', `${field} is required`)
      const matching = ccr.namespaces.filter((name) => name.includes(String(params.Namespace)))
      return {
        Data: {
          NamespaceCount: matching.length,
          NamespaceInfo: page(matching, params.Offset, params.Limit).map((name) => ({
            Namespace: name,
            CreationTime: '2020-01-01 00:00:00',
            RepoCount: ccr.repositories.filter((repo) => repo.name.startsWith(`${name}/`)).length,
          })),
        },
      }
    },
    DescribeRepositoryOwnerPersonal(params) {
      const ccr = requireCcr()
      return {
        Data: {
          TotalCount: ccr.repositories.length,
          Server: ccr.server,
          RepoInfo: page(ccr.repositories, params.Offset, params.Limit).map((repo) => ({
            RepoName: repo.name,
            RepoType: 'private',
            TagCount: repo.tags.length,
            Public: 0,
            IsUserFavor: false,
            IsQcloudOfficial: false,
            FavorCount: 0,
            PullCount: 0,
            Description: '',
            CreationTime: '2020-01-01 00:00:00',
            UpdateTime: '2020-01-01 00:00:00',
          })),
        },
      }
    },
    DescribeImagePersonal(params) {
      const ccr = requireCcr()
      const repo = ccr.repositories.find((candidate) => candidate.name === params.RepoName)
      if (!repo) throw new ApiError('ResourceNotFound', `repository ${String(params.RepoName)} does not exist`)
      // Listed in name order, not by time: the provider must sort by push time itself.
      const tags = [...repo.tags].sort((a, b) => (a.name < b.name ? -1 : 1))
      return {
        Data: {
          TagCount: tags.length,
          Server: ccr.server,
          RepoName: repo.name,
          TagInfo: page(tags, params.Offset, params.Limit).map((tag, index) => ({
            TagName: tag.name,
            TagId: `${index}`,
            ImageId: createHash('sha256').update(`${repo.name}:${tag.name}`).digest('hex').slice(0, 12),
            Size: '1 KB',
            CreationTime: tag.pushTime,
            DurationDays: '1',
            Author: '',
            Architecture: 'amd64',
            DockerVersion: '',
            OS: 'linux',
            SizeByte: 1024,
            Id: index,
            UpdateTime: tag.pushTime,
            PushTime: tag.pushTime,
            Kind: 'image',
          })),
        },
      }
    },
    DescribeInstances(params, region) {
      let matching = instances.filter((instance) => instance.region === region)
      if (Array.isArray(params.Registryids) && params.Registryids.length > 0) {
        matching = matching.filter((instance) => params.Registryids.includes(instance.id))
      }
      for (const filter of (params.Filters ?? []) as {Name: string; Values: string[]}[]) {
        // Loose, as a search box is: the provider must compare the name itself.
        if (filter.Name === 'RegistryName') matching = matching.filter((instance) => filter.Values.some((value) => instance.name.includes(value)))
      }
      return {
        TotalCount: matching.length,
        Registries: page(matching, params.Offset, params.Limit).map((instance) => ({
          RegistryId: instance.id,
          RegistryName: instance.name,
          RegistryType: 'basic',
          Status: instance.status ?? 'Running',
          PublicDomain: instance.publicDomain,
          CreatedAt: '2020-01-01T00:00:00+08:00',
          RegionName: instance.region,
          RegionId: 1,
          EnableAnonymous: false,
          TokenValidTime: 1,
          InternalEndpoint: '',
        })),
      }
    },
    DescribeNamespaces(params) {
      const instance = instanceById(params.RegistryId)
      const names = [...instance.namespaces.keys()].filter((name) => !params.NamespaceName || name.includes(String(params.NamespaceName)))
      return {
        TotalCount: names.length,
        // Offset is a page number here ("which page"), counted from 0 as image-transfer does.
        NamespaceList: page(names, params.Offset, params.Limit, true).map((name) => ({
          Name: name,
          CreationTime: '2020-01-01 00:00:00',
          Public: false,
          NamespaceId: instance.namespaces.get(name),
          AutoScan: false,
          PreventVUL: false,
          Severity: '',
        })),
      }
    },
    CreateNamespace(params) {
      const instance = instanceById(params.RegistryId)
      const name = String(params.NamespaceName ?? '')
      if (typeof params.IsPublic !== 'boolean') throw new ApiError('MissingParameter', 'IsPublic is required')
      if (name.length < 2 || name.length > 30 || !NAMESPACE_RULE.test(name)) {
        throw new ApiError('InvalidParameter.ErrNamespaceNameInvalid', `namespace name ${name} is invalid`)
      }
      if (instance.namespaces.has(name)) throw new ApiError('ResourceInUse.ErrorNamespaceExist', `namespace ${name} already exists`)
      instance.namespaces.set(name, instance.namespaces.size + 1)
      instance.created.push(name)
      return {}
    },
    CreateInstanceToken(params) {
      instanceById(params.RegistryId)
      if (!options.login) throw new ApiError('InternalError', 'no login configured in the fake')
      return {
        Username: options.login.username,
        Token: options.login.token,
        // Milliseconds, as TCR answers.
        ExpTime: Date.now() + (options.login.ttlSeconds ?? 3600) * 1000,
      }
    },
  }

  function requireCcr() {
    if (!options.ccr) throw new ApiError('ResourceNotFound.ErrNoUser', 'the personal edition is not activated')
    return options.ccr
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const action = String(req.headers['x-tc-action'] ?? '')
      const region = req.headers['x-tc-region'] === undefined ? undefined : String(req.headers['x-tc-region'])
      const entry: FakeTcrRequest = {action, region, params: {}, at: Date.now()}
      requests.push(entry)
      const requestId = randomUUID()
      const answer = (payload: Record<string, unknown>) => {
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(JSON.stringify({Response: {...payload, RequestId: requestId}}))
      }
      try {
        if (req.method !== 'POST' || req.url !== '/') throw new ApiError('InvalidAction', `${req.method} ${req.url} is not an API call`)
        checkSignature(req, body, secretId, secretKey)
        if (req.headers['x-tc-version'] !== VERSION) throw new ApiError('InvalidParameter', `version ${String(req.headers['x-tc-version'])} is not ${VERSION}`)
        entry.params = body.length > 0 ? JSON.parse(body.toString('utf8')) : {}
        const left = throttled.get(action) ?? 0
        if (left > 0) {
          throttled.set(action, left - 1)
          throw new ApiError(
            'RequestLimitExceeded',
            'Your current request times equals to `21` in a second, which exceeds the frequency limit `20` for a second. Please reduce the frequency of calls.',
          )
        }
        const handler = actions[action]
        if (!handler) throw new ApiError('InvalidAction', `the action ${action} is not supported`)
        answer(handler(entry.params, region))
      } catch (error) {
        const failure = error instanceof ApiError ? error : new ApiError('InternalError', String(error))
        entry.error = failure.code
        answer({Error: {Code: failure.code, Message: failure.message}})
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  return {
    url: `http://127.0.0.1:${port}`,
    secretId,
    secretKey,
    requests,
    count(action, filter = {}) {
      return requests.filter(
        (request) =>
          (action === '*' || request.action === action) &&
          (filter.error === undefined || (filter.error === null ? request.error === undefined : request.error === filter.error)),
      ).length
    },
    throttle(action, times) {
      throttled.set(action, times)
    },
    namespaces: (id) => [...instanceById(id).namespaces.keys()],
    created: (id) => [...instanceById(id).created],
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

const sha256hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex')
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest()

/**
 * TC3-HMAC-SHA256 as Tencent checks it. The service is the one the scope names: the SDK takes it
 * from the endpoint's first label, which is `127` for 127.0.0.1 (a real endpoint gives `tcr`).
 */
function checkSignature(req: http.IncomingMessage, body: Buffer, secretId: string, secretKey: string): void {
  const authorization = String(req.headers.authorization ?? '')
  const match = /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([^/]+)\/tc3_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
    authorization,
  )
  if (!match) throw new ApiError('AuthFailure.InvalidAuthorization', 'Authorization is not a TC3-HMAC-SHA256 signature.')
  const [, id, date, service, signedHeaders, signature] = match as unknown as [string, string, string, string, string, string]
  if (id !== secretId) throw new ApiError('AuthFailure.SecretIdNotFound', 'The SecretId is not found, please ensure that your SecretId is correct.')
  const timestamp = Number(req.headers['x-tc-timestamp'])
  if (!Number.isFinite(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > 300) {
    throw new ApiError('AuthFailure.SignatureExpire', 'Signature expire. Request timestamp is too far from the server time.')
  }
  if (new Date(timestamp * 1000).toISOString().slice(0, 10) !== date)
    throw new ApiError('AuthFailure.SignatureFailure', 'The credential date is not the timestamp date.')
  const headerLines = signedHeaders
    .split(';')
    .map((name) => {
      const value = name === 'host' ? String(req.headers.host ?? '').replace(/:\d+$/, '') : String(req.headers[name] ?? '')
      return `${name}:${value.trim()}\n`
    })
    .join('')
  const canonical = ['POST', '/', '', headerLines, signedHeaders, sha256hex(body)].join('\n')
  const scope = `${date}/${service}/tc3_request`
  const toSign = ['TC3-HMAC-SHA256', String(timestamp), scope, sha256hex(canonical)].join('\n')
  const key = hmac(hmac(hmac(`TC3${secretKey}`, date), service), 'tc3_request')
  const expected = createHmac('sha256', key).update(toSign).digest('hex')
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    throw new ApiError('AuthFailure.SignatureFailure', 'The provided credentials could not be validated. Please check your signature is correct.')
  }
}
