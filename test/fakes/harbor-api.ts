// A fake Harbor 2.x in front of a real docker-registry: one host:port answers the v2.0 REST API
// (/api/v2.0/*) from its own state, a token service (/service/token), and the registry API
// (/v2/*), which it proxies to the real registry, streaming both ways. Like a real Harbor it
// refuses pushes into a project that does not exist, and it learns artifacts and tags from the
// manifests pushed through it, so the API always matches what the registry holds. Seed images
// through it (it is an Endpoint for the harness) and check them at the registry behind it.
//
// Harbor behaviour kept: basic auth on the API (a wrong password is a 401 here; real Harbor
// downgrades it to anonymous, which /users/current still refuses), page/page_size with
// X-Total-Count and Link, page_size above 100 rejected, nested repository names encoded twice
// in API paths (`a%252Fb`), children of an index hidden from the artifact list, a re-pushed tag
// moving to the new artifact (the old one stays, untagged), 409 on an existing project name.
// Optional quirk: HEAD on a missing blob answers 400, as some Harbor versions do.
import {randomBytes} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

export interface FakeHarborOptions {
  /** The registry behind /v2 (a TestRegistry with auth 'none'). */
  upstream: {url: string}
  /** Accounts: username → password. Default {admin: 'Harbor12345'}. */
  users?: Record<string, string>
  /** Answer 400 instead of 404 to HEAD on a blob the registry does not have. */
  blobHeadMissingStatus?: 400 | 404
}

export interface FakeHarborRequest {
  method: string
  /** Path as sent, still encoded, without the query. */
  path: string
  query: string
  status: number
  /** Order of arrival, shared by API and registry requests. */
  seq: number
}

export interface FakeProject {
  id: number
  name: string
  public: boolean
  /** Set to make it a proxy-cache project. */
  registryId?: number
  createdSeq: number
  /** Seq of the first registry write (upload, mount, manifest) into the project. */
  firstWriteSeq?: number
}

interface Artifact {
  id: number
  digest: string
  mediaType: string
  tags: Set<string>
  /** A child of an index pushed to this repository: not listed, like Harbor's non-base artifacts. */
  referenced: boolean
  pushTime: string
}

interface Fault {
  times: number
  status: number
  retryAfter?: number
  match?: RegExp
  code: string
}

export interface FakeHarbor {
  /** `127.0.0.1:PORT` */
  host: string
  /** `http://127.0.0.1:PORT` */
  url: string
  username: string
  password: string
  requests: FakeHarborRequest[]
  count(filter: {method?: string; path?: RegExp; status?: number}): number
  addProject(name: string, options?: {public?: boolean; registryId?: number}): FakeProject
  project(name: string): FakeProject | undefined
  projectNames(): string[]
  /** Listed artifacts of `project/repo`: digest and tags. */
  artifacts(repository: string): {digest: string; tags: string[]}[]
  repositoryNames(): string[]
  /** The next `times` API requests (matching `match` on the path) answer `status`. */
  failNext(times: number, fault: {status: number; retryAfter?: number; match?: RegExp; code?: string}): void
  /** HEAD blob answers turned from 404 into 400. */
  readonly blobHeadRewrites: number
  stop(): Promise<void>
}

const PROJECT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'])

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export async function startFakeHarbor(options: FakeHarborOptions): Promise<FakeHarbor> {
  const users = options.users ?? {admin: 'Harbor12345'}
  const [username, password] = Object.entries(users)[0]!
  const upstream = new URL(options.upstream.url)
  const projects = new Map<string, FakeProject>()
  const repositories = new Map<string, {id: number; created: string; artifacts: Map<string, Artifact>}>()
  const tokens = new Set<string>()
  const requests: FakeHarborRequest[] = []
  const faults: Fault[] = []
  let seq = 0
  let nextId = 1
  let blobHeadRewrites = 0
  let host = ''

  const addProject = (name: string, opts: {public?: boolean; registryId?: number} = {}): FakeProject => {
    const project: FakeProject = {id: nextId++, name, public: opts.public ?? false, registryId: opts.registryId, createdSeq: ++seq}
    projects.set(name, project)
    return project
  }

  const record = (req: http.IncomingMessage, status: number, at: number) => {
    const [path, query = ''] = (req.url ?? '/').split('?')
    requests.push({method: req.method ?? 'GET', path: path!, query, status, seq: at})
  }

  /** Basic credentials: the user, undefined without a header, null when wrong. */
  const basicUser = (req: http.IncomingMessage): string | undefined | null => {
    const header = req.headers.authorization
    if (!header) return undefined
    const match = /^Basic\s+(.+)$/i.exec(header)
    if (!match) return null
    const text = Buffer.from(match[1]!, 'base64').toString('utf8')
    const colon = text.indexOf(':')
    const user = text.slice(0, colon)
    return colon > 0 && users[user] === text.slice(colon + 1) ? user : null
  }

  // ------------------------------------------------------------------------------------------
  // Registry side: /service/token and the /v2 proxy
  // ------------------------------------------------------------------------------------------

  const token = (req: http.IncomingMessage, res: http.ServerResponse, at: number) => {
    const user = basicUser(req)
    if (!user) return sendError(req, res, at, new ApiError(401, 'UNAUTHORIZED', 'authentication required'))
    const value = randomBytes(16).toString('hex')
    tokens.add(value)
    sendJson(req, res, at, 200, {token: value, access_token: value, expires_in: 1800, issued_at: new Date().toISOString()})
  }

  const registryAuthorized = (req: http.IncomingMessage): boolean => {
    const header = req.headers.authorization ?? ''
    const bearer = /^Bearer\s+(\S+)$/i.exec(header)
    if (bearer) return tokens.has(bearer[1]!)
    return typeof basicUser(req) === 'string'
  }

  const proxy = (req: http.IncomingMessage, res: http.ServerResponse, at: number) => {
    if (!registryAuthorized(req)) {
      res.setHeader('Www-Authenticate', `Bearer realm="http://${host}/service/token",service="harbor-registry"`)
      return sendError(req, res, at, new ApiError(401, 'UNAUTHORIZED', 'unauthorized to access repository'))
    }
    const path = (req.url ?? '/').split('?')[0]!
    const named = /^\/v2\/(.+?)\/(manifests|blobs|tags)\/(.*)$/.exec(path)
    const name = named?.[1]
    const project = name ? projects.get(name.split('/')[0]!) : undefined
    if (name && (!project || !name.includes('/'))) {
      return sendError(req, res, at, new ApiError(404, 'NAME_UNKNOWN', `project ${name.split('/')[0]} not found`))
    }
    const write = req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH'
    if (project && write && project.firstWriteSeq === undefined) project.firstWriteSeq = at
    const manifestPut = req.method === 'PUT' && named?.[2] === 'manifests'
    const body: Buffer[] = []
    if (manifestPut) req.on('data', (chunk: Buffer) => body.push(chunk))

    const headers = {...req.headers}
    delete headers.authorization
    delete headers.connection
    // Host kept as the client sent it, so the registry's upload Locations point back here.
    const forward = http.request({host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers}, (upstreamRes) => {
      let status = upstreamRes.statusCode ?? 502
      const out = {...upstreamRes.headers}
      delete out.connection
      delete out['keep-alive']
      if (typeof out.location === 'string' && out.location.startsWith(upstream.origin)) {
        out.location = `http://${host}${out.location.slice(upstream.origin.length)}`
      }
      if (req.method === 'HEAD' && named?.[2] === 'blobs' && status === 404 && options.blobHeadMissingStatus === 400) {
        status = 400
        blobHeadRewrites++
      }
      if (manifestPut && status === 201 && name) {
        learnManifest(name, named![3]!, String(out['docker-content-digest'] ?? ''), Buffer.concat(body), String(req.headers['content-type'] ?? ''))
      }
      record(req, status, at)
      res.writeHead(status, out)
      upstreamRes.pipe(res)
    })
    forward.on('error', (error) => {
      if (!res.headersSent) sendError(req, res, at, new ApiError(502, 'BAD_GATEWAY', error.message))
      else res.destroy(error)
    })
    req.pipe(forward)
  }

  const learnManifest = (repository: string, reference: string, digest: string, bytes: Buffer, contentType: string) => {
    if (!digest) return
    let repo = repositories.get(repository)
    if (!repo) {
      repo = {id: nextId++, created: new Date().toISOString(), artifacts: new Map()}
      repositories.set(repository, repo)
    }
    let parsed: {mediaType?: string; manifests?: {digest?: string}[]} = {}
    try {
      parsed = JSON.parse(bytes.toString('utf8'))
    } catch {
      // Not JSON: the registry accepted it anyway; record the digest alone.
    }
    const mediaType = parsed.mediaType ?? contentType
    let artifact = repo.artifacts.get(digest)
    if (!artifact) {
      artifact = {id: nextId++, digest, mediaType, tags: new Set(), referenced: false, pushTime: new Date().toISOString()}
      repo.artifacts.set(digest, artifact)
    }
    if (INDEX_TYPES.has(mediaType)) {
      for (const child of parsed.manifests ?? []) {
        const known = child.digest ? repo.artifacts.get(child.digest) : undefined
        if (known) known.referenced = true
      }
    }
    if (!reference.startsWith('sha256:')) {
      // A tag names one artifact: pushing it again moves it, and the old artifact stays untagged.
      for (const other of repo.artifacts.values()) other.tags.delete(reference)
      artifact.tags.add(reference)
    }
  }

  // ------------------------------------------------------------------------------------------
  // API side: /api/v2.0
  // ------------------------------------------------------------------------------------------

  const visibleArtifacts = (repository: string): Artifact[] =>
    [...(repositories.get(repository)?.artifacts.values() ?? [])].filter((a) => !a.referenced || a.tags.size > 0)

  const projectJson = (p: FakeProject) => ({
    project_id: p.id,
    name: p.name,
    owner_id: 1,
    owner_name: 'admin',
    registry_id: p.registryId ?? null,
    repo_count: [...repositories.keys()].filter((r) => r.startsWith(`${p.name}/`)).length,
    metadata: {public: String(p.public)},
    creation_time: '2026-01-01T00:00:00.000Z',
    update_time: '2026-01-01T00:00:00.000Z',
  })

  const api = async (req: http.IncomingMessage, res: http.ServerResponse, at: number, url: URL) => {
    const fault = faults.find((f) => f.times > 0 && (!f.match || f.match.test(url.pathname)))
    if (fault) {
      fault.times--
      if (fault.retryAfter !== undefined) res.setHeader('Retry-After', String(fault.retryAfter))
      throw new ApiError(fault.status, fault.code, 'fault injected by the test')
    }
    const user = basicUser(req)
    if (user === null) throw new ApiError(401, 'UNAUTHORIZED', 'unauthorized')
    const anonymous = user === undefined
    // Go's router matches the path decoded once; a repository name is unescaped once more by
    // the handler. So `a%252Fb` is one segment `a/b`, and a single `a%2Fb` splits the route.
    const route = decodeURIComponent(url.pathname.slice('/api/v2.0'.length)).split('/').slice(1)
    const method = req.method ?? 'GET'
    const visible = (p: FakeProject | undefined) => p !== undefined && (p.public || !anonymous)

    if (method === 'GET' && route.length === 1 && route[0] === 'systeminfo') {
      return sendJson(req, res, at, 200, {harbor_version: 'v2.11.0-fake', auth_mode: 'db_auth', registry_url: host})
    }
    if (method === 'GET' && route.join('/') === 'users/current') {
      if (anonymous) throw new ApiError(401, 'UNAUTHORIZED', 'unauthorized')
      return sendJson(req, res, at, 200, {user_id: 1, username: user, sysadmin_flag: true})
    }
    if (route[0] !== 'projects') throw new ApiError(404, 'NOT_FOUND', `no route ${method} ${url.pathname}`)

    if (route.length === 1) {
      if (method === 'HEAD') {
        if (anonymous) throw new ApiError(401, 'UNAUTHORIZED', 'unauthorized')
        const name = url.searchParams.get('project_name') ?? ''
        return sendJson(req, res, at, projects.has(name) ? 200 : 404, undefined)
      }
      if (method === 'GET') {
        const list = [...projects.values()].filter(visible).sort((a, b) => a.id - b.id)
        return sendPage(req, res, at, url, list.map(projectJson))
      }
      if (method === 'POST') {
        if (anonymous) throw new ApiError(401, 'UNAUTHORIZED', 'unauthorized')
        const body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as {project_name?: string; metadata?: {public?: string}; public?: boolean}
        const name = body.project_name ?? ''
        if (!PROJECT_NAME.test(name) || name.length > 255) {
          throw new ApiError(400, 'BAD_REQUEST', 'project name is not in lower case or contains illegal characters')
        }
        if (projects.has(name)) throw new ApiError(409, 'CONFLICT', `The project named ${name} already exists`)
        const created = addProject(name, {public: body.metadata?.public === 'true' || body.public === true})
        res.setHeader('Location', `/api/v2.0/projects/${created.id}`)
        return sendJson(req, res, at, 201, undefined)
      }
    }
    const byName = req.headers['x-is-resource-name'] === 'true' || !/^\d+$/.test(route[1] ?? '')
    const project = byName ? projects.get(route[1] ?? '') : [...projects.values()].find((p) => String(p.id) === route[1])
    if (!visible(project)) {
      if (anonymous && project) throw new ApiError(401, 'UNAUTHORIZED', 'unauthorized')
      throw new ApiError(404, 'NOT_FOUND', `project ${route[1]} not found`)
    }
    if (method === 'GET' && route.length === 2) return sendJson(req, res, at, 200, projectJson(project!))
    if (method === 'GET' && route.length === 3 && route[2] === 'repositories') {
      const list = [...repositories.entries()]
        .filter(([name]) => name.startsWith(`${project!.name}/`))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, repo]) => ({
          id: repo.id,
          project_id: project!.id,
          name,
          artifact_count: visibleArtifacts(name).length,
          pull_count: 0,
          creation_time: repo.created,
          update_time: repo.created,
        }))
      return sendPage(req, res, at, url, list)
    }
    if (method === 'GET' && route.length === 5 && route[2] === 'repositories' && route[4] === 'artifacts') {
      const repository = `${project!.name}/${decodeURIComponent(route[3]!)}`
      if (!repositories.has(repository)) throw new ApiError(404, 'NOT_FOUND', `repository ${repository} not found`)
      const withTag = url.searchParams.get('with_tag') !== 'false'
      const list = visibleArtifacts(repository)
        .sort((a, b) => b.id - a.id)
        .map((a) => ({
          id: a.id,
          type: 'IMAGE',
          media_type: 'application/vnd.oci.image.config.v1+json',
          manifest_media_type: a.mediaType,
          project_id: project!.id,
          repository_id: repositories.get(repository)!.id,
          digest: a.digest,
          size: 0,
          push_time: a.pushTime,
          pull_time: '0001-01-01T00:00:00.000Z',
          tags:
            withTag && a.tags.size > 0
              ? [...a.tags].map((name, k) => ({
                  id: a.id * 1000 + k,
                  repository_id: repositories.get(repository)!.id,
                  artifact_id: a.id,
                  name,
                  push_time: a.pushTime,
                  immutable: false,
                }))
              : null,
        }))
      return sendPage(req, res, at, url, list)
    }
    // Harbor's tag API removes the tag alone; the artifact stays, untagged. (This fake's /v2 tag
    // list still comes from the registry behind it; real Harbor's follows its database.)
    if (method === 'DELETE' && route.length === 8 && route[2] === 'repositories' && route[4] === 'artifacts' && route[6] === 'tags') {
      const repository = `${project!.name}/${decodeURIComponent(route[3]!)}`
      const reference = route[5]!
      const artifact = [...(repositories.get(repository)?.artifacts.values() ?? [])].find((a) => a.digest === reference || a.tags.has(reference))
      if (!artifact || !artifact.tags.delete(route[7]!)) throw new ApiError(404, 'NOT_FOUND', `tag ${route[7]} of ${repository}@${reference} not found`)
      return sendJson(req, res, at, 200, {})
    }
    throw new ApiError(404, 'NOT_FOUND', `no route ${method} ${url.pathname}`)
  }

  const sendPage = (req: http.IncomingMessage, res: http.ServerResponse, at: number, url: URL, items: unknown[]) => {
    const page = Number(url.searchParams.get('page') ?? '1')
    const pageSize = Number(url.searchParams.get('page_size') ?? '10')
    if (!Number.isInteger(pageSize) || pageSize > 100 || pageSize < 1 || !Number.isInteger(page) || page < 1) {
      throw new ApiError(422, 'UNPROCESSABLE_ENTITY', 'validation failure list:\npage_size in query should be less than or equal to 100')
    }
    const links: string[] = []
    const at_ = (n: number) => {
      const next = new URL(url.href)
      next.searchParams.set('page', String(n))
      return `<${next.pathname}${next.search}>`
    }
    if (page > 1) links.push(`${at_(page - 1)}; rel="prev"`)
    if (page * pageSize < items.length) links.push(`${at_(page + 1)}; rel="next"`)
    res.setHeader('X-Total-Count', String(items.length))
    if (links.length > 0) res.setHeader('Link', links.join(' , '))
    sendJson(req, res, at, 200, items.slice((page - 1) * pageSize, page * pageSize))
  }

  const sendJson = (req: http.IncomingMessage, res: http.ServerResponse, at: number, status: number, body: unknown) => {
    record(req, status, at)
    const text = body === undefined ? '' : JSON.stringify(body)
    res.writeHead(status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text)})
    res.end(req.method === 'HEAD' ? undefined : text)
  }

  const sendError = (req: http.IncomingMessage, res: http.ServerResponse, at: number, error: ApiError) => {
    // The body may be unread (a refused upload): drain it so the connection stays usable.
    req.resume()
    sendJson(req, res, at, error.status, {errors: [{code: error.code, message: error.message}]})
  }

  const server = http.createServer((req, res) => {
    const at = ++seq
    const url = new URL(req.url ?? '/', 'http://fake')
    if (url.pathname === '/service/token') return token(req, res, at)
    if (url.pathname === '/v2' || url.pathname.startsWith('/v2/')) return proxy(req, res, at)
    if (url.pathname.startsWith('/api/v2.0/')) {
      api(req, res, at, url).catch((error: unknown) => {
        const failure = error instanceof ApiError ? error : new ApiError(500, 'INTERNAL_SERVER_ERROR', String(error))
        if (!res.headersSent) sendError(req, res, at, failure)
      })
      return
    }
    sendError(req, res, at, new ApiError(404, 'NOT_FOUND', 'not found'))
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    host,
    url: `http://${host}`,
    username,
    password,
    requests,
    count: (filter) =>
      requests.filter(
        (r) =>
          (filter.method === undefined || r.method === filter.method) &&
          (filter.path === undefined || filter.path.test(r.path)) &&
          (filter.status === undefined || r.status === filter.status),
      ).length,
    addProject,
    project: (name) => projects.get(name),
    projectNames: () => [...projects.keys()].sort(),
    artifacts: (repository) => visibleArtifacts(repository).map((a) => ({digest: a.digest, tags: [...a.tags].sort()})),
    repositoryNames: () => [...repositories.keys()].sort(),
    failNext(times, fault) {
      faults.push({times, status: fault.status, retryAfter: fault.retryAfter, match: fault.match, code: fault.code ?? codeOf(fault.status)})
    },
    get blobHeadRewrites() {
      return blobHeadRewrites
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function codeOf(status: number): string {
  return {401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 429: 'TOO_MANY_REQUESTS', 503: 'SERVICE_UNAVAILABLE'}[status] ?? 'INTERNAL_SERVER_ERROR'
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}
