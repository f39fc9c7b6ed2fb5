import {ConfigError} from '../errors.js'
import {parseRegistryHost} from '../reference.js'
import {mapLimit} from '../transfer/map-limit.js'
import {apiKeys, createTencentApi, PAGE_SIZE, regionOf, type TcrResponse, type TencentApi} from './tcr-api.js'
import {offsetPages, type Page} from './tcr-pages.js'
import {newestTags, parseTagLimit, type TagTimes} from './tcr-tags.js'
import type {ProviderContext, SourceProvider, SourceRepository} from './provider.js'

type RepositoryPage = TcrResponse<'DescribeRepositoryOwnerPersonal'>
type RepoInfo = NonNullable<NonNullable<RepositoryPage['Data']>['RepoInfo']>[number]

/** Tag listings of one page of repositories run this many at once, in page order. */
const TAG_LISTERS = 4

/**
 * Tencent CCR, the personal edition, as a source: every repository the account owns in one
 * region (DescribeRepositoryOwnerPersonal, paged), each with its newest N tags by push time
 * (DescribeImagePersonal, paged). The registry host is what the API calls its `Server`. Pulls use
 * the security file's credentials for that host, as image-transfer does: the personal edition
 * has no temporary login API.
 */
export async function ccrSource(context: ProviderContext): Promise<SourceProvider> {
  const region = regionOf(context)
  const tagLimit = parseTagLimit(context.settings.tagNums)
  const namespace = context.settings.namespace?.replace(/^\/+|\/+$/g, '') || undefined
  const api = await createTencentApi({side: 'ccr', region, keys: apiKeys(context, 'ccr'), env: context.env, limiter: context.limiter})
  if (namespace) await requireNamespace(api, namespace.split('/')[0]!)
  // The first page is needed now for the registry host; it is kept and listed first.
  let firstPage: RepositoryPage | undefined = await listRepositories(api, 0, PAGE_SIZE)
  const registry = registryOf(firstPage, region)

  const inScope = (repository: string) => !namespace || repository === namespace || repository.startsWith(`${namespace}/`)
  return {
    name: 'ccr',
    registry,
    async *repositories(signal) {
      const pages = offsetPages<RepoInfo>(
        async (offset, limit) => {
          const answer = offset === 0 && firstPage ? firstPage : await listRepositories(api, offset, limit, signal)
          firstPage = undefined
          return repositoryItems(answer)
        },
        PAGE_SIZE,
        `ccr: DescribeRepositoryOwnerPersonal in region ${region}`,
      )
      for await (const page of pages) {
        const names = page.filter((repo) => repo.RepoName && inScope(repo.RepoName))
        const found = await mapLimit(names, TAG_LISTERS, (repo) => repositoryTags(api, repo, tagLimit, signal))
        for (const repository of found) yield repository
      }
    },
  }
}

function listRepositories(api: TencentApi, offset: number, limit: number, signal?: AbortSignal): Promise<RepositoryPage> {
  return api.call('DescribeRepositoryOwnerPersonal', {Offset: offset, Limit: limit}, signal)
}

function repositoryItems(answer: RepositoryPage): Page<RepoInfo> {
  const items = answer.Data?.RepoInfo ?? []
  return {items, total: answer.Data?.TotalCount ?? items.length}
}

/** The registry host from `Server` (e.g. ccr.ccs.tencentyun.com), with any scheme or slash a server adds. */
function registryOf(answer: RepositoryPage, region: string): string {
  const server = answer.Data?.Server?.trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/+$/, '')
  if (server) return parseRegistryHost(server)
  // An account with no repository has nothing to pull, so any name does; one with repositories must say where they are.
  if ((answer.Data?.TotalCount ?? 0) === 0) return 'ccr.ccs.tencentyun.com'
  throw new ConfigError(`ccr: DescribeRepositoryOwnerPersonal named no registry host (Server) for region ${region}`)
}

async function repositoryTags(api: TencentApi, repo: RepoInfo, tagLimit: number, signal?: AbortSignal): Promise<SourceRepository> {
  const repository = repo.RepoName!
  if (repo.TagCount === 0) return {repository, tags: []}
  const all: TagTimes[] = []
  const pages = offsetPages(
    async (offset, limit) => {
      const answer = await api.call('DescribeImagePersonal', {RepoName: repository, Offset: offset, Limit: limit}, signal)
      const items = answer.Data?.TagInfo ?? []
      return {items, total: answer.Data?.TagCount ?? items.length}
    },
    PAGE_SIZE,
    `ccr: DescribeImagePersonal of ${repository}`,
  )
  // Push times decide which tags are newest, so a repository's tags are all read before choosing.
  for await (const page of pages) all.push(...page)
  const {tags, omitted} = newestTags(all, tagLimit)
  return omitted > 0 ? {repository, tags, omittedTags: omitted} : {repository, tags}
}

/** --fromNamespace must name a namespace of this account and region; a typo would otherwise copy nothing, silently. */
async function requireNamespace(api: TencentApi, namespace: string): Promise<void> {
  const pages = offsetPages(
    async (offset, limit) => {
      // The API's Namespace parameter is a fuzzy search, so the match is checked here.
      const answer = await api.call('DescribeNamespacePersonal', {Namespace: namespace, Offset: offset, Limit: limit})
      const items = answer.Data?.NamespaceInfo ?? []
      return {items, total: answer.Data?.NamespaceCount ?? items.length}
    },
    PAGE_SIZE,
    `ccr: DescribeNamespacePersonal in region ${api.region}`,
  )
  for await (const page of pages) if (page.some((info) => info.Namespace === namespace)) return
  throw new ConfigError(`ccr: no CCR namespace ${namespace} in region ${api.region}`)
}
