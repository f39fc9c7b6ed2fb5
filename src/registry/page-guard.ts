/**
 * Ends listings that would never end. A registry or a cloud API pages its listings, and a broken
 * or hostile one can point the next page back at one already read, serve the same page whatever
 * page is asked for, or promise a total it never reaches; each of those loops forever unless the
 * lister counts. Every paging loop (registry Link, provider APIs) goes through one of these.
 */
import {createHash} from 'node:crypto'

import {FerryError} from '../errors.js'

/**
 * No real listing has more pages: 10,000 pages of 1,000 names is ten million repositories or
 * tags. A loop that slips past the other checks ends here within minutes, not days.
 */
export const MAX_PAGES = 10_000

export class PageGuard {
  private readonly asked = new Set<string>()
  private previous?: string
  private pages = 0

  /** `what` names the listing with its registry and repository: `list tags of HOST/REPO`. */
  constructor(
    private readonly what: string,
    private readonly maxPages = MAX_PAGES,
  ) {}

  /**
   * Before asking for a page: `key` (its URL, or an API's page token) must be new, and the page
   * count within the bound. `shown` is the key as the message may quote it (tokens are not).
   */
  ask(key?: string, shown?: string): void {
    this.pages++
    if (this.pages > this.maxPages) {
      throw new FerryError(
        'PAGINATION_LOOP',
        `${this.what}: more than ${this.maxPages.toLocaleString('en-US')} pages, so the paging never ends; stopped with the listing incomplete`,
      )
    }
    if (key === undefined) return
    const id = createHash('sha256').update(key).digest('hex')
    if (this.asked.has(id)) {
      throw new FerryError(
        'PAGINATION_LOOP',
        `${this.what}: the next page${shown ? ` (${shown})` : ''} is one already read, so the paging loops; stopped with the listing incomplete`,
      )
    }
    this.asked.add(id)
  }

  /** After a page arrives: the same items as the page before mean the server ignores which page is asked for. */
  received(items: readonly unknown[]): void {
    if (items.length === 0) return
    const text = JSON.stringify(items)
    if (text === this.previous) {
      throw new FerryError('PAGINATION_LOOP', `${this.what}: a page repeats the one before it, so the paging loops; stopped with the listing incomplete`)
    }
    this.previous = text
  }
}
