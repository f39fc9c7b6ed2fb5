import {runSignal} from '../abort.js'
import {FerryError} from '../errors.js'
import {underPrefix, type RefusedName} from '../names.js'
import {expandPattern, type Rule} from '../rule.js'
import {matchesPattern} from '../select/repository-paths.js'
import {chainSelectors, compileSelection, predicateSelector, type TagSelector} from '../select/tags.js'
import {MemoryChannel} from './channel.js'
import {DestinationClaims, repositoryClashes} from './clash.js'
import type {TransferJob} from './job.js'

export type Generated = {kind: 'job'; job: TransferJob} | {kind: 'error'; rule: string; error: FerryError}

/**
 * A rule group's source listing as --prune reads it: every tag the source listed (before any
 * filter), whether the listing ended without failing, and which tags the group's filters select
 * one by one (--latest's ranking aside).
 */
export interface SourceListing {
  rules: readonly Rule[]
  tags: ReadonlySet<string>
  complete: boolean
  inScope: (tag: string) => boolean
}

/** Sent down the same channel as a rule's jobs, after the last of them, so it arrives only once they have. */
type Listed = {kind: 'listed'; rules: string[]}

/**
 * Where a rule could not be made (a provider listed a repository or tag that breaks the
 * distribution grammar): reported as that rule's failure while the other rules go on.
 */
export interface RefusedRule {
  /** Who listed it, for the report's rule column (`registry:127.0.0.1:5000`). */
  rule: string
  refused: FerryError
}

/** A stream of rules may carry refusals in place of the rules that could not be made. */
export type RuleItem = Rule | RefusedRule

/**
 * Lists a source repository's tags; the pipeline does not know where they come from. A tag the
 * lister refused (one that breaks the grammar) arrives as its error.
 */
export type TagLister = (registry: string, repository: string, signal?: AbortSignal) => AsyncIterable<string | FerryError>

/** Lists the repositories of a source registry (its catalog), for pattern rules; `prefix` picks the credentials. */
export type RepositoryLister = (registry: string, prefix: string, signal?: AbortSignal) => AsyncIterable<string | RefusedName>

const RULE_LABELS = {include: 'includeTags', exclude: 'excludeTags', semver: 'semver', latest: 'latest'}

/** The jobs of one rule once its tags are known. Pure. */
export function jobsForRule(rule: Rule, tags: readonly string[]): TransferJob[] {
  const {source, destination} = rule
  const platforms = rule.selection?.platforms ? {platforms: rule.selection.platforms} : {}
  if (source.digest) {
    return [
      {
        rule: rule.text,
        source: {registry: source.registry, repository: source.repository, digest: source.digest},
        destination: {registry: destination.registry, repository: destination.repository, tag: destination.tag, digest: destination.digest},
        ...platforms,
      },
    ]
  }
  return tags.map((tag) => ({
    rule: rule.text,
    source: {registry: source.registry, repository: source.repository, tag},
    destination: {registry: destination.registry, repository: destination.repository, tag: destination.tag ?? tag},
    ...platforms,
  }))
}

/**
 * Rules that differ only in their destination (one source, a list of targets, as image-syncer
 * writes them) become one job per tag with several destinations, so the source is read once.
 * Only neighbours are merged: the loaders emit a source's destinations together.
 */
export function mergeDestinations(jobs: readonly TransferJob[][]): TransferJob[] {
  const [first, ...others] = jobs
  if (!first) return []
  return first.map((job, index) => {
    const extra = others.map((list) => list[index]!.destination)
    return extra.length > 0 ? {...job, extraDestinations: extra} : job
  })
}

function sourceKey(rule: Rule): string {
  return JSON.stringify({...rule, text: undefined, file: undefined, line: undefined, destination: undefined, mapping: undefined})
}

/** Groups neighbouring rules with the same source (and selection); a refusal passes through on its own. */
async function* groupRules<R extends RuleItem>(rules: Iterable<R> | AsyncIterable<R>): AsyncGenerator<Rule[] | Exclude<R, Rule>> {
  let group: Rule[] = []
  try {
    for await (const rule of rules) {
      if ('refused' in rule) {
        yield rule as Exclude<R, Rule>
        continue
      }
      if (group.length > 0 && sourceKey(group[0]!) !== sourceKey(rule)) {
        yield group
        group = []
      }
      group.push(rule)
    }
  } catch (error) {
    // The rules stopped with an error (a provider's failed listing): what came before it still runs.
    if (group.length > 0) yield group
    throw error
  }
  if (group.length > 0) yield group
}

/**
 * Rules in, jobs out, as they become known. Rules that need a tag listing are listed by up to
 * `listers` at once, and their jobs flow out while other repositories are still being listed, so
 * copying starts before enumeration ends. A rule whose listing fails yields one error and the
 * others go on.
 *
 * Two sources never reach one destination tag (pipeline/clash.ts). So that this is decided before
 * any job leaves, the rules are first made concrete: a rule stream is read to its end and pattern
 * rules are expanded from the catalog (repositories only; tags are still listed as they stream).
 * Implicit merges of repositories are then refused from the rules alone, and only jobs bound for a
 * destination repository that several rules write wait, until all those rules are listed. A caller
 * whose rules cannot clash (`distinctDestinations`) keeps the stream as it arrives.
 */
export async function* generateJobs(
  rules: Iterable<RuleItem> | AsyncIterable<RuleItem>,
  options: {
    listTags: TagLister
    listers: number
    signal?: AbortSignal
    /** Applies to listed tags only: tags a rule names are copied as named. */
    tagFilter?: (tag: string) => boolean
    /** The run's --semver/--latest, after tagFilter; a rule's own selection applies after both. */
    selector?: TagSelector
    /** Needed for pattern rules (`registry/team/**`). */
    listRepositories?: RepositoryLister
    /**
     * The rules send different source repositories to different destination repositories, one
     * destination each (a provider without --toNamespace): no clash is possible, so rules become
     * jobs as they arrive instead of after the stream ends.
     */
    distinctDestinations?: boolean
    /**
     * Told the texts of rules that are done: every job of theirs was taken from this generator
     * (or their failure was). A rule a stop cuts short is never named.
     */
    onListed?: (rules: string[]) => void
    /** Told each listed rule group's source listing when it ends or fails (--prune). */
    onSourceListing?: (listing: SourceListing) => void
  },
): AsyncGenerator<Generated> {
  const out = new MemoryChannel<Generated | Listed>(Math.max(16, options.listers * 4))
  const stop = new AbortController()
  // Every lister waits on the channel with it when the channel is full.
  const signal = runSignal(options.signal, stop.signal)!
  let claims: DestinationClaims | undefined

  // A job bound for a destination several rules write waits in `claims` until they are all listed.
  const send = async (job: TransferJob) => {
    if (!claims?.hold(job)) await out.push({kind: 'job', job}, {signal})
  }
  // A pattern rule is done once every repository it expanded to is: rules left per pattern text.
  const patternOf = new WeakMap<Rule, string>()
  const patternLeft = new Map<string, number>()
  const markListed = async (done: readonly Rule[]) => {
    const texts = done.map((member) => member.text)
    for (const member of done) {
      const pattern = patternOf.get(member)
      if (pattern === undefined) continue
      const left = (patternLeft.get(pattern) ?? 1) - 1
      patternLeft.set(pattern, left)
      if (left === 0) texts.push(pattern)
    }
    await out.push({kind: 'listed', rules: texts}, {signal})
  }
  // Rules that produced all their jobs, some of which may still wait in `claims`.
  const waiting = new Set<Rule[]>()
  const finished = async (group: Rule[]) => {
    for (const item of claims?.finished(group) ?? []) await out.push(item, {signal})
    // A rule stopped mid-listing returns quietly: it is never called done.
    if (signal.aborted) return
    waiting.add(group)
    for (const each of waiting) {
      if (claims?.holds(each)) continue
      waiting.delete(each)
      await markListed(each)
    }
  }
  const jobsForGroup = (group: Rule[], tags: readonly string[]) => mergeDestinations(group.map((member) => jobsForRule(member, tags)))

  const listRule = async (group: Rule[]) => {
    const rule = group[0]!
    let count = 0
    let matched = 0
    // The rule's own pattern (image-syncer's `repo:/regex/`), checked before the run-wide filters.
    const pattern = rule.source.tagPattern === undefined ? undefined : new RegExp(rule.source.tagPattern)
    const seen = new Set<string>()
    let inScope = (tag: string) => !pattern || pattern.test(tag)
    try {
      const selector = chainSelectors(predicateSelector(options.tagFilter), options.selector, compileSelection(rule.selection?.tags, RULE_LABELS))
      if (selector) inScope = (tag) => (!pattern || pattern.test(tag)) && selector.keep(tag)
      // --latest ranks the whole listing, so it is collected first; every other filter streams.
      const listed: string[] = []
      for await (const tag of options.listTags(rule.source.registry, rule.source.repository, signal)) {
        count++
        if (typeof tag === 'string') seen.add(tag)
        if (typeof tag !== 'string') {
          // That tag fails on its own; the rule's other tags are still copied.
          await out.push({kind: 'error', rule: rule.text, error: tag}, {signal})
          continue
        }
        if (pattern && !pattern.test(tag)) continue
        matched++
        if (selector?.needsAll) listed.push(tag)
        else if (!selector || selector.keep(tag)) for (const job of jobsForGroup(group, [tag])) await send(job)
      }
      if (selector?.needsAll) for (const job of jobsForGroup(group, selector.choose(listed))) await send(job)
      if (count === 0) {
        await out.push({kind: 'error', rule: rule.text, error: new FerryError('NO_TAGS', `rule ${rule.text}: the source repository has no tags`)}, {signal})
      } else if (pattern && matched === 0) {
        const message = `rule ${rule.text}: none of the ${count} tags of the source repository matches /${rule.source.tagPattern}/`
        await out.push({kind: 'error', rule: rule.text, error: new FerryError('NO_TAGS', message)}, {signal})
      }
      options.onSourceListing?.({rules: group, tags: seen, complete: !signal.aborted, inScope})
    } catch (error) {
      options.onSourceListing?.({rules: group, tags: seen, complete: false, inScope})
      if (signal.aborted) return
      const failure = FerryError.is(error) ? error : new FerryError('LIST_FAILED', String(error))
      await out.push({kind: 'error', rule: rule.text, error: failure}, {signal}).catch(() => undefined)
    }
  }

  /** The rules a pattern group stands for, one group per matching catalog repository. */
  const expandGroup = async (group: Rule[]): Promise<Rule[][]> => {
    const rule = group[0]!
    const depth = rule.source.pattern!
    const expanded: Rule[][] = []
    try {
      if (!options.listRepositories) throw new FerryError('INVALID_RULE', `rule ${rule.text}: repository patterns are not available here`)
      for await (const repository of options.listRepositories(rule.source.registry, rule.source.repository, signal)) {
        if (typeof repository !== 'string') {
          // Reported where the entry as listed falls under the pattern (`team/../x` under `team/*`).
          if (underPrefix(repository, rule.source.repository)) await out.push({kind: 'error', rule: rule.text, error: repository}, {signal})
          continue
        }
        if (!matchesPattern(repository, rule.source.repository, depth)) continue
        expanded.push(group.map((member) => expandPattern(member, repository)))
      }
      if (expanded.length === 0) {
        await out.push(
          {
            kind: 'error',
            rule: rule.text,
            error: new FerryError('NO_REPOSITORIES', `rule ${rule.text}: the source catalog has no repository under this pattern`),
          },
          {signal},
        )
      }
    } catch (error) {
      // The repositories found before a failed catalog page are still copied.
      if (signal.aborted) return expanded
      const failure = FerryError.is(error) ? error : new FerryError('LIST_FAILED', String(error))
      await out.push({kind: 'error', rule: rule.text, error: failure}, {signal}).catch(() => undefined)
    }
    // Only a catalog listed to its end (or to its failure) makes the pattern done, once its expansions are.
    if (signal.aborted) return expanded
    const texts = group.map((member) => member.text)
    // expandPattern maps a group member by member, so expansion[i] stands for group[i].
    for (const expansion of expanded) expansion.forEach((member, index) => patternOf.set(member, texts[index]!))
    if (expanded.length === 0) await out.push({kind: 'listed', rules: texts}, {signal})
    else for (const text of texts) patternLeft.set(text, expanded.length)
    return expanded
  }

  /** Every rule, concrete: the stream read to its end (or to its failure), patterns expanded. */
  const settle = async (): Promise<{rules: Rule[]; stopped?: unknown}> => {
    const concrete: Rule[] = []
    try {
      for await (const group of groupRules(rules)) {
        if (signal.aborted) break
        if (!Array.isArray(group)) {
          await out.push({kind: 'error', rule: group.rule, error: group.refused}, {signal})
          continue
        }
        if (group[0]!.source.pattern) for (const expanded of await expandGroup(group)) concrete.push(...expanded)
        else concrete.push(...group)
      }
    } catch (error) {
      return {rules: concrete, stopped: error}
    }
    return {rules: concrete}
  }

  const produce = async () => {
    const running = new Set<Promise<void>>()
    const start = async (group: Rule[]) => {
      const rule = group[0]!
      if (rule.source.digest || rule.source.tags) {
        for (const job of jobsForGroup(group, rule.source.tags ?? [])) await send(job)
        await finished(group)
        return
      }
      while (running.size >= Math.max(1, options.listers)) await Promise.race(running)
      // A rule that failed to list has finished too: what the others claimed is then decided without it.
      const task: Promise<void> = listRule(group)
        .then(() => finished(group))
        .catch(() => undefined)
        .finally(() => running.delete(task))
      running.add(task)
    }
    try {
      let groups: AsyncIterable<Rule[] | RefusedRule>
      let stopped: unknown
      if (options.distinctDestinations) {
        groups = groupRules(rules)
      } else {
        const settled = await settle()
        stopped = settled.stopped
        const {allowed, refused} = repositoryClashes(settled.rules)
        for (const refusal of refused) await out.push({kind: 'error', ...refusal}, {signal})
        // A refused rule is reported: it is done, as a rule whose listing failed is.
        const kept = new Set(allowed)
        const refusedRules = settled.rules.filter((rule) => !kept.has(rule))
        if (refusedRules.length > 0) await markListed(refusedRules)
        claims = new DestinationClaims(allowed)
        groups = groupRules(allowed)
      }
      for await (const group of groups) {
        if (signal.aborted) break
        if (!Array.isArray(group)) {
          await out.push({kind: 'error', rule: group.rule, error: group.refused}, {signal})
          continue
        }
        if (group[0]!.source.pattern) for (const expanded of await expandGroup(group)) await start(expanded)
        else await start(group)
      }
      await Promise.all(running)
      if (stopped !== undefined) throw stopped
    } catch (error) {
      // Aborted while pushing: the consumer went away, nothing is waiting for these jobs. Anything
      // else is the rules themselves failing (a provider's enumeration): reported, never dropped.
      await Promise.all(running)
      if (!signal.aborted) {
        const failure = FerryError.is(error) ? error : new FerryError('LIST_FAILED', String(error))
        await out.push({kind: 'error', rule: '*', error: failure}, {signal}).catch(() => undefined)
      }
    } finally {
      out.close()
    }
  }

  const producing = produce()
  try {
    for await (const item of out) {
      if (item.kind === 'listed') options.onListed?.(item.rules)
      else yield item
    }
  } finally {
    stop.abort()
    await producing
  }
}
