import {FerryError} from '../errors.js'
import {repositoryScope} from './challenge.js'
import type {RegistryClient} from './client.js'

/** Pages of at most this many; ECR rejects larger `n`. */
const PAGE_SIZE = 1000

/** Every tag of a repository, page by page, following `Link: <…>; rel="next"`. */
export async function* listTags(
  client: RegistryClient,
  repository: string,
  options: {signal?: AbortSignal} = {},
): AsyncGenerator<string> {
  let path: string | undefined = `/v2/${repository}/tags/list?n=${PAGE_SIZE}`
  const seen = new Set<string>()
  while (path) {
    const response = await client.sendForBuffer({
      method: 'GET',
      path,
      scopes: [repositoryScope(repository, ['pull'])],
      expect: [200],
      idempotent: true,
      what: `list tags of ${client.registry}/${repository}`,
      signal: options.signal,
    })
    const page = parseJson<{tags?: unknown}>(response.data, `list tags of ${client.registry}/${repository}`)
    for (const tag of Array.isArray(page.tags) ? page.tags : []) {
      if (typeof tag === 'string' && !seen.has(tag)) {
        seen.add(tag)
        yield tag
      }
    }
    path = nextLink(response.headers.link)
  }
}

/** Every repository of a registry through the optional catalog endpoint. */
export async function* listRepositories(client: RegistryClient, options: {signal?: AbortSignal} = {}): AsyncGenerator<string> {
  let path: string | undefined = `/v2/_catalog?n=${PAGE_SIZE}`
  while (path) {
    const response = await client.sendForBuffer({
      method: 'GET',
      path,
      scopes: ['registry:catalog:*'],
      expect: [200],
      idempotent: true,
      what: `list repositories of ${client.registry}`,
      signal: options.signal,
    })
    const page = parseJson<{repositories?: unknown}>(response.data, `list repositories of ${client.registry}`)
    for (const name of Array.isArray(page.repositories) ? page.repositories : []) {
      if (typeof name === 'string') yield name
    }
    path = nextLink(response.headers.link)
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
