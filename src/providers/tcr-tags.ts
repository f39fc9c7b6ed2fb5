import {ConfigError} from '../errors.js'

/** image-transfer's --ccrTagNums default: the newest 100 tags of each repository. */
export const DEFAULT_TAG_LIMIT = 100

/** What the CCR API says about one tag (DescribeImagePersonal's TagInfo), as far as ordering goes. */
export interface TagTimes {
  TagName?: string
  PushTime?: string
  UpdateTime?: string
  CreationTime?: string
}

/** `settings.tagNums`: absent → 100; 0 → every tag; anything but a whole number ≥ 0 is refused. */
export function parseTagLimit(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_TAG_LIMIT
  const text = value.trim()
  if (!/^\d+$/.test(text)) throw new ConfigError(`ccr: the tag limit must be a whole number ≥ 0 (0 = all tags), not ${JSON.stringify(value)}`)
  return Number(text)
}

/**
 * Milliseconds for ordering. CCR writes times as `2020-06-17 17:18:51` (no zone); they are all
 * read in the same zone, which is all a comparison needs. Unreadable or missing → -Infinity, so
 * a tag the API dates nowhere counts as the oldest.
 */
export function tagTime(tag: TagTimes): number {
  const text = (tag.PushTime || tag.UpdateTime || tag.CreationTime || '').trim()
  if (text === '') return Number.NEGATIVE_INFINITY
  const bare = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/.exec(text)
  const parsed = Date.parse(bare ? `${bare[1]}T${bare[2]}Z` : text)
  return Number.isNaN(parsed) ? Number.NEGATIVE_INFINITY : parsed
}

/**
 * The newest `limit` tags by push time (0 = all), newest first, and how many were left out.
 * Ties are broken by name so that two runs keep the same tags. Pure.
 */
export function newestTags(tags: readonly TagTimes[], limit: number): {tags: string[]; omitted: number} {
  const named = tags.filter((tag): tag is TagTimes & {TagName: string} => typeof tag.TagName === 'string' && tag.TagName !== '')
  const unique = [...new Map(named.map((tag) => [tag.TagName, tag])).values()]
  const ordered = unique
    .map((tag) => ({name: tag.TagName, time: tagTime(tag)}))
    .sort((a, b) => (a.time === b.time ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : b.time - a.time))
    .map((tag) => tag.name)
  const kept = limit > 0 ? ordered.slice(0, limit) : ordered
  return {tags: kept, omitted: ordered.length - kept.length}
}
