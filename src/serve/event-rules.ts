import type {Rule} from '../config/rules.js'
import {normalizeHost, type PushEvent} from './push-events.js'

/**
 * The rules a tag push starts, each narrowed to that one tag: the source names only the pushed tag
 * and the destination keeps the rule's mapping (its tag when it renames one, else the same tag).
 * A rule matches when its source registry is one of the event's hosts and its repository is the
 * pushed one, and it would copy the tag: it lists every tag (and the tag passes the tag filter)
 * or names it. A rule pinned to a digest never moves. Pure.
 */
export function rulesForPush(rules: readonly Rule[], push: PushEvent, tagFilter?: (tag: string) => boolean): Rule[] {
  const hosts = new Set(push.hosts.map(normalizeHost))
  const matched: Rule[] = []
  for (const rule of rules) {
    const source = rule.source
    if (source.digest || source.repository !== push.repository || !hosts.has(normalizeHost(source.registry))) continue
    if (source.tags ? !source.tags.includes(push.tag) : tagFilter && !tagFilter(push.tag)) continue
    matched.push({
      ...rule,
      source: {registry: source.registry, repository: source.repository, tags: [push.tag]},
      destination: {...rule.destination},
    })
  }
  return matched
}
