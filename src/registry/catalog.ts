import {FerryError, RegistryError} from '../errors.js'
import {checkRepositoryName, checkTag, nameRefusal, type RefusedName} from '../names.js'
import {LISTING_PAGE_LIMIT} from './body-limits.js'
import {repositoryScope} from './challenge.js'
import type {RegistryClient} from './client.js'
import {PageGuard} from './page-guard.js'

/** Pages of at most this many; ECR rejects larger `n`. */
const PAGE_SIZE = 1000

/**
 * A listed name, or the refusal of one that breaks the distribution grammar: the listing goes on,
 * and the caller reports the refusal for the item it stood for.
 */
export type Listed = string | RefusedName

/** Every tag of a repository, page by page, following `Link: <…>; rel="next"`. */
export async function* listTags(client: RegistryClient, repository: string, options: {signal?: AbortSignal} = {}): AsyncGenerator<Listed> {
  const seen = new Set<string>()
  const pages = pagesOf(client, `/v2/${repository}/tags/list`, {
    scopes: [repositoryScope(repository, ['pull'])],
    what: `list tags of ${client.registry}/${repository}`,
    signal: options.signal,
  })
  for await (const page of pages) {
    const tags = (page as {tags?: unknown}).tags
    for (const tag of Array.isArray(tags) ? tags : []) {
      if (typeof tag === 'string' && seen.has(tag)) continue
      if (typeof tag === 'string') seen.add(tag)
      // A tag goes into destination URLs (`../../x/manifests/latest` would leave the repository).
      yield nameRefusal(() => checkTag(tag, `registry ${client.registry}, tags of ${repository}`, 'skipped')) ?? (tag as string)
    }
  }
}

/** Every repository of a registry through the optional catalog endpoint. */
export async function* listRepositories(client: RegistryClient, options: {signal?: AbortSignal} = {}): AsyncGenerator<Listed> {
  const pages = pagesOf(client, '/v2/_catalog', {scopes: ['registry:catalog:*'], what: `list repositories of ${client.registry}`, signal: options.signal})
  for await (const page of pages) {
    const names = (page as {repositories?: unknown}).repositories
    for (const name of Array.isArray(names) ? names : []) {
      yield nameRefusal(() => checkRepositoryName(name, `registry ${client.registry}, catalog`, 'skipped')) ?? (name as string)
    }
  }
}

/**
 * JSON pages of a listing endpoint, following Link. The first request asks for large pages; a
 * registry whose page cap is lower refuses that (Distribution: 400 PAGINATION_NUMBER_INVALID),
 * and is then asked with no page size at all, so it picks its own. A link back to a page already
 * read, or more pages than any real listing has, ends it with an error (PageGuard).
 */
async function* pagesOf(
  client: RegistryClient,
  path: string,
  request: {scopes: readonly string[]; what: string; signal?: AbortSignal},
): AsyncGenerator<unknown> {
  let next: string | undefined = `${path}?n=${PAGE_SIZE}`
  let sized = true
  const guard = new PageGuard(request.what)
  const bodyLimit = {bytes: LISTING_PAGE_LIMIT, name: 'the limit for one page of a listing'}
  while (next) {
    if (request.signal?.aborted) throw new FerryError('ABORTED', `${request.what}: aborted`)
    const url = pageUrl(next, client.baseUrl, request.what)
    guard.ask(url.href, `${url.pathname}${url.search}`)
    let response
    try {
      response = await client.sendForBuffer({method: 'GET', path: next, expect: [200], idempotent: true, bodyLimit, ...request})
    } catch (error) {
      if (sized && error instanceof RegistryError && error.code === 'PAGINATION_NUMBER_INVALID') {
        sized = false
        next = path
        continue
      }
      throw error
    }
    sized = false
    yield parseJson<unknown>(response.data, request.what)
    next = nextLink(response.headers.link)
  }
}

/** A next-page link resolved against the registry; one that is no URL is an error naming the listing. */
export function pageUrl(link: string, base: string, what: string): URL {
  try {
    return new URL(link, base)
  } catch {
    throw new FerryError('INVALID_RESPONSE', `${what}: registry sent a next-page link that is not a URL`)
  }
}

/** `<url>; rel="next"` → url. Pure. */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined
  for (const part of header.split(',')) {
    const match = /<([^>]+)>\s*;(.*)/.exec(part.trim())
    if (match && /rel="?next"?/i.test(match[2])) return match[1]
  }
  return undefined
}

function parseJson<T>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString('utf8')) as T
  } catch {
    throw new FerryError('INVALID_RESPONSE', `${what}: registry answered something that is not JSON`, {retryable: true})
  }
}
