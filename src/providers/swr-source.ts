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
 * Every repository of the organizations (all the key may list, or one: --fromNamespace):
 * ListReposDetails page by page for each organization, then each repository's tags
 * (ListRepositoryTags, paged), the newest `tagLimit` by update time. Repositories stream as
 * their pages arrive. A name the API lists is checked before it goes into the next call's URL.
 */
export async function* swrRepositories(
  api: SwrApi,
  organizations: SwrOrganizations,
  options: {tagLimit: number; region: string},
  signal?: AbortSignal,
): AsyncGenerator<SourceRepository | RefusedName> {
  const from = `swr organizations in region ${options.region}`
  for (const refused of organizations.refused) yield refused
  for (const namespace of organizations.names) {
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

export interface SwrOrganizations {
  /** The organizations to list, in the API's order. */
  names: string[]
  /** Organizations listed under a name that breaks the grammar. */
  refused: RefusedName[]
}

/**
 * The organizations to enumerate, read when the source is opened: wrong keys or a missing
 * permission stop the run before it starts, and --fromNamespace must name one the key may list
 * (a typo would otherwise copy nothing, silently).
 */
export async function swrOrganizations(api: SwrApi, options: {namespace?: string; region: string}): Promise<SwrOrganizations> {
  const names: string[] = []
  const refused: RefusedName[] = []
  for (const {name} of await api.namespaces()) {
    const refusal = nameRefusal(() => checkRepositoryName(name, `swr organizations in region ${options.region}, ListNamespaces`, 'skipped'))
    if (refusal) refused.push(refusal)
    else names.push(name!)
  }
  if (!options.namespace) return {names, refused}
  if (!names.includes(options.namespace)) throw new ConfigError(`swr: no organization ${options.namespace} in region ${options.region} that this key may list`)
  return {names: [options.namespace], refused: []}
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
