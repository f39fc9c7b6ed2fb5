import {PageGuard} from '../registry/page-guard.js'
import type {TemporaryLogin} from './acr-token.js'

/** A repository as either edition's API lists it. */
export interface AcrRepository {
  namespace: string
  name: string
  /** Enterprise edition: RepoId, which ListRepoTag needs. */
  id?: string
  /** Enterprise edition: NORMAL, DELETING, … */
  status?: string
  /** Personal edition: repoDomainList.public, the registry host its images live on. */
  domain?: string
}

/**
 * What ferry asks of an ACR edition. The enterprise edition (an instance, RPC API 2018-12-01)
 * and the personal edition (ROA API 2016-06-07) answer the same questions in different shapes;
 * everything above this interface is edition-blind.
 */
export interface AcrEdition {
  /** The registry host images are pulled from and pushed to; `namespace` is looked at first when the answer lives in a repository. */
  registryHost(namespace?: string, signal?: AbortSignal): Promise<string>
  namespaces(signal?: AbortSignal): AsyncGenerator<string[]>
  repositories(namespace: string, signal?: AbortSignal): AsyncGenerator<AcrRepository[]>
  tags(repository: AcrRepository, signal?: AbortSignal): AsyncGenerator<string[]>
  /** An already-existing namespace or repository is success. */
  createNamespace(namespace: string, signal?: AbortSignal): Promise<void>
  createRepository(namespace: string, name: string, signal?: AbortSignal): Promise<void>
  login(signal?: AbortSignal): Promise<TemporaryLogin>
  /** Whether a repository name past the namespace may hold `/` (multi-level paths). */
  readonly nestedNames: boolean
}

export interface Page<T> {
  items: T[]
  /** What the answer says the whole list holds; NaN when it did not say. */
  total: number
  /** What the server actually used (it may cap the size asked for). */
  pageSize?: number
}

/**
 * Pure: whether another page follows. The total decides when the answer gives one (a string in
 * the enterprise answers, hence Number() before it gets here); otherwise a short page ends the
 * list. An empty page always ends it, so a total that lies cannot loop forever.
 */
export function morePages(seen: number, page: Page<unknown>, asked: number): boolean {
  if (page.items.length === 0) return false
  if (Number.isFinite(page.total)) return seen < page.total
  return page.items.length >= (page.pageSize ?? asked)
}

/**
 * Page by page, 1-based, as the pages arrive: nothing is listed in full first. A page that repeats
 * the one before (the page number ignored) or a total never reached ends it with an error.
 */
export async function* paged<T>(fetch: (page: number) => Promise<Page<T>>, asked: number, signal?: AbortSignal, what = 'acr: a listing'): AsyncGenerator<T[]> {
  let seen = 0
  const guard = new PageGuard(what)
  for (let number = 1; ; number++) {
    signal?.throwIfAborted()
    guard.ask()
    const page = await fetch(number)
    guard.received(page.items)
    seen += page.items.length
    if (page.items.length > 0) yield page.items
    if (!morePages(seen, page, asked)) return
  }
}

/**
 * Pure: a destination path as ACR holds it, `namespace/name`. Either a reason it cannot be held,
 * or the two parts. The personal edition has no multi-level names; the enterprise edition does.
 */
export function splitRepository(repository: string, nestedNames: boolean): {namespace: string; name: string} | {problem: string} {
  const slash = repository.indexOf('/')
  if (slash <= 0 || slash === repository.length - 1) {
    return {problem: `acr keeps every repository in a namespace, and ${JSON.stringify(repository)} names none: put one in front with --toNamespace`}
  }
  const namespace = repository.slice(0, slash)
  const name = repository.slice(slash + 1)
  if (!nestedNames && name.includes('/')) {
    return {
      problem: `the acr personal edition has only namespace/name repositories, not ${JSON.stringify(repository)}: flatten the path or use an enterprise instance`,
    }
  }
  return {namespace, name}
}

/** Number fields arrive as numbers, strings ("TotalCount":"5") or json-bigint objects. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value
  if (typeof value === 'string' && value.trim() !== '') return Number(value)
  if (typeof value === 'object' && value !== null) return Number(String(value))
  return Number.NaN
}

export function toText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : ''
}

export function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null) : []
}

/** A domain as the API gives it, reduced to host[:port]. */
export function hostOf(domain: string): string {
  return domain
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/\/.*$/, '')
}
