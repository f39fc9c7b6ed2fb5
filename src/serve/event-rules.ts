import type {Rule} from '../config/rules.js'
import {formatRepository} from '../reference.js'
import {isReferrerTag} from '../transfer/referrer-set.js'
import {normalizeHost, type PushEvent} from './push-events.js'

/**
 * The rules a tag push starts, each narrowed to that one tag: the source names only the pushed tag
 * and the destination keeps the rule's mapping (its tag when it renames one, else the same tag).
 * A rule matches when its source registry is one of the event's hosts and its repository is the
 * pushed one, and it would copy the tag: it lists every tag (and the tag passes the tag filter)
 * or names it. A rule pinned to a digest never moves. Pure.
 */
export function rulesForPush(rules: readonly Rule[], push: PushEvent, tagFilter?: (tag: string) => boolean, options: {referrers?: boolean} = {}): Rule[] {
  const hosts = new Set(push.hosts.map(normalizeHost))
  const subject = options.referrers === false ? undefined : subjectOfReferrerTag(push.tag)
  const matched: Rule[] = []
  for (const rule of rules) {
    const source = rule.source
    if (source.digest || source.repository !== push.repository || !hosts.has(normalizeHost(source.registry))) continue
    if (subject) {
      // A signature, SBOM or fallback index pushed for an image: that image's job by digest, which
      // finds the image at the destination and copies its referrers (a job of the referrer tag
      // itself would copy the source's fallback index over the one ferry keeps there). Only rules
      // that copy every tag: which tag the subject is, the event does not say.
      if (!source.tags && !source.tagPattern && !rule.selection?.tags) {
        const {tag: _tag, ...destination} = rule.destination
        matched.push({...rule, source: {registry: source.registry, repository: source.repository, digest: subject}, destination})
      }
      continue
    }
    if (source.tags ? !source.tags.includes(push.tag) : tagFilter && !tagFilter(push.tag)) continue
    matched.push({
      ...rule,
      source: {registry: source.registry, repository: source.repository, tags: [push.tag]},
      destination: {...rule.destination},
    })
  }
  return matched
}

/** `sha256-<hex>` (`.sig`, `.att`, `.sbom`) → `sha256:<hex>`; undefined for any other tag. Pure. */
export function subjectOfReferrerTag(tag: string): string | undefined {
  return isReferrerTag(tag) ? tag.replace(/\.(?:sig|att|sbom)$/, '').replace('-', ':') : undefined
}

/**
 * A push whose destination repository other rules write too runs every rule of that destination
 * whole, as a full run would: the generator then refuses a clash on any tag exactly as a full run
 * does (pipeline/clash.ts). Narrowed, the push would not see that the other rule claims the tag,
 * and the other rule's tags would not see the pushed rule's. Costs a full listing of those rules,
 * only for destinations several rules share; other pushes stay narrowed to their tag. Pure.
 */
export function withClaimants(narrowed: readonly Rule[], rules: readonly Rule[]): Rule[] {
  if (narrowed.length === 0) return []
  const key = (rule: Rule) => formatRepository(rule.destination)
  const writers = new Map<string, number>()
  for (const rule of rules) if (!rule.source.pattern) writers.set(key(rule), (writers.get(key(rule)) ?? 0) + 1)
  const shared = new Set(narrowed.map(key).filter((destination) => (writers.get(destination) ?? 0) > 1))
  if (shared.size === 0) return [...narrowed]
  return [...narrowed.filter((rule) => !shared.has(key(rule))), ...rules.filter((rule) => !rule.source.pattern && shared.has(key(rule)))]
}
