import {PageGuard} from '../registry/page-guard.js'

/** One answer of a paged Tencent API call, reduced to what paging needs. */
export interface Page<T> {
  items: T[]
  /** The API's TotalCount (or NamespaceCount, TagCount) for the whole listing. */
  total: number
}

/** Never loop forever on an API that keeps answering: 100,000 pages of up to 100 items is plenty. */
const MAX_PAGES = 100_000

/** Names a listing in the error that ends a loop. */
const LISTING = 'tencent: a paged listing'

/**
 * Offset/Limit paging where Offset counts items (most personal-edition and instance actions).
 * The offset advances by what came back, not by the Limit asked for, because a server may
 * answer fewer per page than asked (its own maximum). Stops at TotalCount or an empty page; a page
 * that repeats the one before (Offset ignored) or more than MAX_PAGES is an error, never a loop.
 */
export async function* offsetPages<T>(fetch: (offset: number, limit: number) => Promise<Page<T>>, limit: number, what = LISTING): AsyncGenerator<T[]> {
  let offset = 0
  const guard = new PageGuard(what, MAX_PAGES)
  for (;;) {
    guard.ask()
    const answer = await fetch(offset, limit)
    guard.received(answer.items)
    if (answer.items.length > 0) yield answer.items
    offset += answer.items.length
    if (answer.items.length === 0 || offset >= answer.total) return
  }
}

/**
 * Offset/Limit paging where Offset is a page number (DescribeNamespaces documents it as "which
 * page"). Whether page 0 or page 1 comes first is not documented; starting at 0 is right either
 * way if a page repeating the previous one is skipped, so only items not seen before are yielded.
 * Stops at TotalCount, at an empty page, or after two pages in a row brought nothing new; more
 * than MAX_PAGES is an error.
 */
export async function* pageNumberPages<T>(
  fetch: (page: number, limit: number) => Promise<Page<T>>,
  limit: number,
  key: (item: T) => string,
  what = LISTING,
): AsyncGenerator<T[]> {
  const seen = new Set<string>()
  let stale = 0
  const guard = new PageGuard(what, MAX_PAGES)
  for (let page = 0; ; page++) {
    guard.ask()
    const answer = await fetch(page, limit)
    if (answer.items.length === 0) return
    const fresh = answer.items.filter((item) => {
      const id = key(item)
      if (seen.has(id)) return false
      seen.add(id)
      return true
    })
    if (fresh.length > 0) yield fresh
    stale = fresh.length === 0 ? stale + 1 : 0
    if (seen.size >= answer.total || stale >= 2) return
  }
}
