import {ConfigError, FerryError} from '../errors.js'
import {parseRegistryHost, quote} from '../reference.js'
import {HarborApi} from './harbor-api.js'
import {
  pageSizeFrom,
  projectNameProblem,
  repositoryApiPath,
  splitRepository,
  summarizeFailures,
  tagsOfArtifacts,
  type HarborArtifact,
  type HarborProject,
  type HarborRepository,
} from './harbor-model.js'
import type {DestinationProvider, ProviderContext, ProviderModule, SourceProvider, SourceRepository} from './provider.js'

const LIST_PERMISSION = 'at least the Guest role in the project (a robot account: list repository and list artifact)'
const CREATE_PERMISSION = 'permission to create projects (any user, unless project creation is limited to admins)'

/**
 * Harbor 2.x. The REST API (`/api/v2.0`) and the registry share one host and one account, so
 * the access given for the host serves both and the registry side needs no access() of
 * its own. Source: projects → repositories → artifacts with their tags, page by page. Destination:
 * a project must exist before the first push into it, so prepare() creates missing ones.
 */
export const harborProvider: ProviderModule = {
  name: 'harbor',
  summary: 'Harbor 2.x: projects, repositories and tags through its v2.0 API; creates missing projects at the destination',

  async source(context: ProviderContext): Promise<SourceProvider> {
    const {host, api} = connect(context, 'source')
    const namespace = context.settings.namespace?.replace(/^\/+|\/+$/g, '') || undefined
    const pageSize = pageSizeFrom(context.env.FERRY_HARBOR_PAGE_SIZE)
    await verifyAccount(api)
    const only = namespace ? await findProject(api, namespace.split('/')[0]!) : undefined
    return {
      name: 'harbor',
      registry: host,
      repositories: (signal) => enumerate(api, {only, prefix: namespace?.includes('/') ? `${namespace}/` : undefined, pageSize, context, signal}),
    }
  },

  async destination(context: ProviderContext): Promise<DestinationProvider> {
    const {host, api} = connect(context, 'destination')
    const namespace = context.settings.namespace?.replace(/^\/+|\/+$/g, '') || undefined
    const project = namespace?.split('/')[0]
    const problem = project ? projectNameProblem(project) : undefined
    if (problem) throw new ConfigError(`harbor: cannot put repositories into project ${quote(project!)} (--toNamespace): ${problem}`)
    await verifyAccount(api)
    const projects = new Map<string, Promise<void>>()
    return {
      name: 'harbor',
      registry: host,
      prepare(repository, signal) {
        const parts = splitRepository(repository)
        if (!parts) {
          return Promise.reject(
            new FerryError('INVALID_RULE', `harbor: ${host}/${repository} names no project; Harbor repositories are project/name (use --toNamespace)`),
          )
        }
        // One check (and at most one creation) per project, shared by every repository in it; a
        // failure is forgotten so that the job's retry asks again.
        let pending = projects.get(parts.project)
        if (!pending) {
          pending = ensureProject(api, parts.project, signal)
          projects.set(parts.project, pending)
          pending.catch(() => projects.delete(parts.project))
        }
        return pending
      },
      // Harbor deletes a tag alone; the artifact stays (untagged) for Harbor's own retention.
      async removeTag(repository, tag, digest, signal) {
        const parts = splitRepository(repository)
        if (!parts) throw new FerryError('INVALID_RULE', `harbor: ${host}/${repository} names no project`)
        await api.request({
          method: 'DELETE',
          path: `${repositoryApiPath(parts.project, parts.repository)}/artifacts/${encodeURIComponent(digest)}/tags/${encodeURIComponent(tag)}`,
          expect: [200, 404],
          what: `delete tag ${repository}:${tag}`,
          permission: 'the Developer role in the project (a robot account: delete tag)',
          signal,
        })
      },
    }
  },
}

function connect(context: ProviderContext, side: 'source' | 'destination'): {host: string; api: HarborApi} {
  const flag = side === 'source' ? '--fromRegistry' : '--toRegistry'
  const value = context.settings.registry?.trim()
  if (!value) throw new ConfigError(`the harbor provider needs the ${side} Harbor host (${flag})`)
  const scheme = /^(https?):\/\//i.exec(value)?.[1]?.toLowerCase()
  const host = parseRegistryHost(value.replace(/^https?:\/\//i, '').replace(/\/+$/, ''))
  // The bare host's entry: the API is registry-wide, whatever namespace entries the file also has.
  const access = context.credentials.lookup(host, '')
  if (scheme === 'http' && !access.insecure) {
    throw new ConfigError(
      `harbor: ${flag} says http:// but the access given for ${host}${access.writtenIn ? ` (${access.writtenIn})` : ''} does not say insecure: true; ferry reaches its API and registry alike from that access`,
    )
  }
  return {host, api: new HarborApi({host, access, limiter: context.limiter})}
}

/**
 * Fails the run at its start, with one line, when the host is not a Harbor or refuses the
 * account. A wrong password does not fail every call: Harbor treats the request as anonymous
 * and lists public projects, so the current user is what tells (a robot account gets 412).
 */
async function verifyAccount(api: HarborApi): Promise<void> {
  const response = await api.request({
    method: 'GET',
    path: api.anonymous ? '/systeminfo' : '/users/current',
    expect: [200, 404, 412],
    what: api.anonymous ? 'read system information' : 'check the account',
  })
  if (response.status === 404) {
    throw new ConfigError(`harbor: ${api.host} does not answer the Harbor v2.0 API (${api.baseUrl}); is it a Harbor 2.x host?`)
  }
}

async function findProject(api: HarborApi, name: string): Promise<HarborProject> {
  const response = await api.request<HarborProject>({
    method: 'GET',
    path: `/projects/${encodeURIComponent(name)}`,
    // A project named with digits only would otherwise be read as a project id.
    headers: {'X-Is-Resource-Name': 'true'},
    expect: [200, 403, 404],
    what: `read project ${name}`,
  })
  if (response.status !== 200 || !response.data?.name) {
    throw new ConfigError(
      `harbor: project ${quote(name)} (--fromNamespace) was not found on ${api.host}${response.status === 403 ? ', or the account may not see it' : ''}`,
    )
  }
  return response.data
}

interface EnumerateOptions {
  /** The one project to copy (--fromNamespace); every visible project when absent. */
  only?: HarborProject
  /** Only repositories under this path (`project/team/`). */
  prefix?: string
  pageSize: number
  context: ProviderContext
  signal?: AbortSignal
}

/**
 * Projects, then each project's repositories, then each repository's artifacts, one page at a
 * time: tags flow to the engine while later pages are still unread. One project or repository
 * that cannot be listed does not stop the others; the failures end the enumeration as one error
 * once everything else has been found, so the run reports them instead of a silent partial copy.
 */
async function* enumerate(api: HarborApi, options: EnumerateOptions): AsyncGenerator<SourceRepository> {
  const {pageSize, signal} = options
  const logger = options.context.logger
  const failures: string[] = []
  let untaggedTotal = 0
  let untaggedRepositories = 0

  for await (const project of projectsOf(api, options)) {
    // A proxy cache holds copies of another registry's images; asked for by name, it is copied.
    if (project.registry_id && !options.only) {
      logger?.warn(`harbor: project ${api.host}/${project.name} is a proxy cache of another registry; not copied`)
      continue
    }
    try {
      const repositories = api.pages<HarborRepository>({
        path: `/projects/${encodeURIComponent(project.name)}/repositories`,
        pageSize,
        what: `list repositories of project ${project.name}`,
        permission: LIST_PERMISSION,
        signal,
      })
      for await (const page of repositories) {
        for (const repository of page) {
          if (options.prefix && !repository.name.startsWith(options.prefix)) continue
          if (repository.artifact_count === 0) continue
          try {
            let untagged = 0
            for await (const found of tagsOf(api, repository.name, pageSize, signal)) {
              untagged += found.untagged
              if (found.tags.length > 0) yield {repository: repository.name, tags: found.tags}
            }
            if (untagged > 0) {
              untaggedTotal += untagged
              untaggedRepositories++
              logger?.info(`harbor: ${untagged} untagged artifact${untagged === 1 ? '' : 's'} in ${api.host}/${repository.name} not copied`)
            }
          } catch (error) {
            if (signal?.aborted || isAccountFailure(error)) throw error
            failures.push(describe(error, api.host))
          }
        }
      }
    } catch (error) {
      if (signal?.aborted || isAccountFailure(error)) throw error
      failures.push(describe(error, api.host))
    }
  }
  if (untaggedTotal > 0) {
    logger?.warn(
      `harbor: ${untaggedTotal} untagged artifact${untaggedTotal === 1 ? '' : 's'} in ${untaggedRepositories} repositor${untaggedRepositories === 1 ? 'y' : 'ies'} of ${api.host} not copied (ferry copies tags)`,
    )
  }
  if (failures.length > 0) {
    throw new FerryError(
      'LIST_FAILED',
      `harbor: ${failures.length} listing${failures.length === 1 ? '' : 's'} failed on ${api.host}: ${summarizeFailures(failures)}`,
    )
  }
}

async function* projectsOf(api: HarborApi, options: EnumerateOptions): AsyncGenerator<HarborProject> {
  if (options.only) {
    yield options.only
    return
  }
  const pages = api.pages<HarborProject>({
    path: '/projects',
    pageSize: options.pageSize,
    what: 'list projects',
    signal: options.signal,
  })
  for await (const page of pages) yield* page
}

async function* tagsOf(api: HarborApi, name: string, pageSize: number, signal?: AbortSignal): AsyncGenerator<{tags: string[]; untagged: number}> {
  const parts = splitRepository(name)
  if (!parts) return
  const pages = api.pages<HarborArtifact>({
    path: `${repositoryApiPath(parts.project, parts.repository)}/artifacts`,
    query: {with_tag: 'true', with_label: 'false', with_scan_overview: 'false'},
    pageSize,
    what: `list artifacts of ${name}`,
    permission: LIST_PERMISSION,
    signal,
  })
  for await (const page of pages) yield tagsOfArtifacts(page)
}

/**
 * The project exists, or is created (private). HEAD first: an account that may push into an
 * existing project may well not be allowed to create one. A 409 means another run created it
 * between the two calls, which is just as good.
 */
async function ensureProject(api: HarborApi, project: string, signal?: AbortSignal): Promise<void> {
  const problem = projectNameProblem(project)
  if (problem) throw new FerryError('INVALID_RULE', `harbor: cannot create project ${quote(project)} on ${api.host}: ${problem}`)
  const head = await api.request({
    method: 'HEAD',
    path: '/projects',
    query: {project_name: project},
    expect: [200, 404],
    what: `check project ${project}`,
    signal,
  })
  if (head.status === 200) return
  await api.request({
    method: 'POST',
    path: '/projects',
    body: {project_name: project, metadata: {public: 'false'}},
    expect: [201, 409],
    what: `create project ${project}`,
    permission: CREATE_PERMISSION,
    signal,
  })
}

/** A refused account fails every later call the same way: stop at once. */
function isAccountFailure(error: unknown): boolean {
  return FerryError.is(error) && (error.code === 'AUTH_FAILED' || error.code === 'ABORTED')
}

/** A failure as a clause of the closing error, which already names the provider and the host. */
function describe(error: unknown, host: string): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/^harbor: /, '').replace(` on ${host}`, '')
}
