import {ConfigError} from '../errors.js'
import {checkRepositoryName, nameRefusal, type RefusedName} from '../names.js'
import {mapLimit} from '../transfer/map-limit.js'
import type {SourceRepository} from './provider.js'
import {PAGE_SIZE, type SwrApi, type SwrRepository} from './swr-api.js'
import {offsetPages} from './tcr-pages.js'
import {newestTags, type TagTimes} from './tcr-tags.js'

/** Tag listings of one page of repositories run this many at once, in page order. */
const TAG_LISTERS = 4

/**
 * Every repository of the account's organizations (or of one, --fromNamespace): ListNamespaces,
 * then ListReposDetails page by page for each organization, then each repository's tags
 * (ListRepositoryTags, paged), the newest `tagLimit` by update time. Repositories stream as
 * their pages arrive. A name the API lists is checked before it goes into the next call's URL.
 */
export async function* swrRepositories(
  api: SwrApi,
  options: {namespace?: string; tagLimit: number; region: string},
  signal?: AbortSignal,
): AsyncGenerator<SourceRepository | RefusedName> {
  const from = `swr organizations in region ${options.region}`
  const namespaces: string[] = []
  for (const {name} of await api.namespaces(signal)) {
    const refused = nameRefusal(() => checkRepositoryName(name, `${from}, ListNamespaces`, 'skipped'))
    if (refused) {
      if (!options.namespace) yield refused
    } else namespaces.push(name!)
  }
  if (options.namespace && !namespaces.includes(options.namespace)) {
    // A typo would otherwise copy nothing, silently.
    throw new ConfigError(`swr: no organization ${options.namespace} in region ${options.region} that this key may list`)
  }
  for (const namespace of options.namespace ? [options.namespace] : namespaces) {
    const pages = offsetPages<SwrRepository>(
      (offset, limit) => api.repositories(namespace, offset, limit, signal),
      PAGE_SIZE,
      `swr: ListReposDetails of organization ${namespace}`,
    )
    for await (const page of pages) {
      const valid: string[] = []
      for (const repo of page) {
        // The namespace query may match loosely; only this organization's repositories are its.
        if ((repo.namespace ?? namespace) !== namespace) continue
        const path = `${namespace}/${String(repo.name)}`
        const refused = nameRefusal(() => checkRepositoryName(typeof repo.name === 'string' ? path : repo.name, `${from}, ListReposDetails`, 'skipped'))
        if (refused) yield refused
        else valid.push(repo.name!)
      }
      const found = await mapLimit(valid, TAG_LISTERS, (name) => repositoryTags(api, namespace, name, options.tagLimit, signal))
      for (const repository of found) yield repository
    }
  }
}

async function repositoryTags(api: SwrApi, namespace: string, name: string, tagLimit: number, signal?: AbortSignal): Promise<SourceRepository> {
  const repository = `${namespace}/${name}`
  const all: TagTimes[] = []
  const pages = offsetPages((offset, limit) => api.tags(namespace, name, offset, limit, signal), PAGE_SIZE, `swr: ListRepositoryTags of ${repository}`)
  // Update times decide which tags are newest, so a repository's tags are all read before choosing.
  for await (const page of pages) for (const tag of page) all.push({TagName: tag.Tag ?? tag.tag, UpdateTime: tag.updated, CreationTime: tag.created})
  const {tags, omitted} = newestTags(all, tagLimit)
  return omitted > 0 ? {repository, tags, omittedTags: omitted} : {repository, tags}
}
