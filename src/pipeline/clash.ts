/**
 * Two different sources must never write one destination tag: whichever job ran last would win,
 * and the next run could flip the tag back (data loss no digest check sees). Two checks, both
 * made before anything is written and both depending only on the rules and the tags they name or
 * list, never on timing, so every run reaches the same outcome:
 *
 * - Repository level, from the rules alone: a destination repository that two different source
 *   repositories reach, where at least one got there by an implicit mapping (--ns, --registry, an
 *   empty destination, --flatten, --toNamespace, a `prefix/**` pattern), is refused for all of
 *   them. Rules that write their destinations out may merge repositories: the user said so.
 * - Tag level (DestinationClaims): jobs bound for a destination repository that more than one rule
 *   writes are held back until every one of those rules has produced all its jobs (listed its
 *   tags); then a destination tag claimed by two different source references is refused for every
 *   claimant, and the other jobs go on.
 *
 * Sources are compared by reference (registry/repository:tag or @digest), not by digest: references
 * are known before any network call, and a digest comparison would make the outcome depend on where
 * tags point at that moment. The same image under two names is therefore a clash too; one line
 * tells the user which rules to change.
 */
import {FerryError} from '../errors.js'
import type {DestinationMapping, Rule} from '../rule.js'
import {destinationsOf, type TransferJob} from './job.js'
import {formatReference, formatRepository, type ImageReference} from '../reference.js'

export type Released = {kind: 'job'; job: TransferJob} | {kind: 'error'; rule: string; error: FerryError}

export interface Refusal {
  rule: string
  error: FerryError
}

const HINTS: Record<DestinationMapping, string> = {
  default: 'give one of them an explicit destination, or keep their whole paths with --flatten',
  flatten: 'give one of them an explicit destination, or join paths with another --flattenSeparator',
  toNamespace: 'leave one out with --repositories (or drop --toNamespace) and copy it with an explicit rule',
  pattern: 'give the patterns distinct destination prefixes, or one of them an explicit rule',
}

const BY: Record<DestinationMapping, string> = {
  default: '--registry/--ns',
  flatten: '--flatten',
  toNamespace: '--toNamespace',
  pattern: 'a repository pattern',
}

/** `a`, `a and b`, `a, b and c`. */
function listNames(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`
}

/**
 * Rules whose implicit mapping merges two different source repositories into one destination
 * repository: every rule of such a destination is refused, one line each naming the sources, the
 * destination and what to do. Pure; the result does not depend on the order of the rules.
 */
export function repositoryClashes(rules: readonly Rule[]): {allowed: Rule[]; refused: Refusal[]} {
  const byDestination = new Map<string, Rule[]>()
  for (const rule of rules) {
    if (rule.source.pattern) continue
    const key = formatRepository(rule.destination)
    const list = byDestination.get(key)
    if (list) list.push(rule)
    else byDestination.set(key, [rule])
  }
  const refusedRules = new Set<Rule>()
  const refused: Refusal[] = []
  for (const [destination, claimants] of byDestination) {
    const sources = [...new Set(claimants.map((rule) => formatRepository(rule.source)))].sort()
    if (sources.length < 2) continue
    const mappings = [...new Set(claimants.flatMap((rule) => (rule.mapping ? [rule.mapping] : [])))].sort()
    if (mappings.length === 0) continue
    for (const rule of claimants) {
      const own = formatRepository(rule.source)
      const others = sources.filter((source) => source !== own)
      const [both, neither] = others.length === 1 ? ['both', 'neither is'] : ['all', 'none of them is']
      const message =
        `destination clash: ${listNames([own, ...others])} would ${both} go to ${destination} (mapped there by ${listNames(mappings.map((m) => BY[m]))}); ` +
        `${neither} copied there: ${HINTS[mappings[0]!]}`
      refused.push({rule: rule.text, error: new FerryError('DESTINATION_CLASH', message)})
      refusedRules.add(rule)
    }
  }
  return {allowed: rules.filter((rule) => !refusedRules.has(rule)), refused}
}

/** The line for one side of a tag both (or all) of `sources` would write. */
export function tagClashMessage(destination: ImageReference, own: string, sources: readonly string[]): string {
  const others = sources.filter((source) => source !== own)
  const who = others.length === 1 ? `both ${own} and ${others[0]}` : `all of ${own}, ${listNames(others)}`
  const none = others.length === 1 ? 'neither is' : 'none of them is'
  return `destination clash: ${formatReference(destination)} is the destination of ${who}; ${none} copied there: give one of the rules another destination tag or repository`
}

/**
 * The tag-level check while jobs are produced. Destination repositories written by one rule only
 * pass straight through (nothing else can claim their tags); the others are held until settled.
 */
export class DestinationClaims {
  /** Destination repositories more than one rule writes, with the rules that have not finished yet. */
  private readonly unfinished = new Map<string, number>()
  private readonly claims = new Map<string, Set<string>>()
  private held: {job: TransferJob; waiting: Set<string>}[] = []

  constructor(rules: readonly Rule[]) {
    const counts = new Map<string, number>()
    for (const rule of rules) counts.set(formatRepository(rule.destination), (counts.get(formatRepository(rule.destination)) ?? 0) + 1)
    for (const [key, count] of counts) if (count > 1) this.unfinished.set(key, count)
  }

  private shared(destination: ImageReference): boolean {
    // A push by digest alone moves no tag, so it cannot take one from another source.
    return destination.tag !== undefined && this.unfinished.has(formatRepository(destination))
  }

  /** Records the job's claims; true when it must wait (the caller then does not send it on). */
  hold(job: TransferJob): boolean {
    const shared = destinationsOf(job).filter((destination) => this.shared(destination))
    if (shared.length === 0) return false
    const source = formatReference(job.source)
    for (const destination of shared) {
      const key = formatReference({...destination, digest: undefined})
      const sources = this.claims.get(key)
      if (sources) sources.add(source)
      else this.claims.set(key, new Set([source]))
    }
    // Released by finished(): the rule that produced this job has not finished yet.
    this.held.push({job, waiting: new Set(shared.map(formatRepository))})
    return true
  }

  /**
   * Rules that have produced all their jobs (or failed to). Returns what that lets go: held jobs
   * without their clashing destinations, and one refusal per clashing destination.
   */
  finished(rules: readonly Rule[]): Released[] {
    let settledNow = false
    for (const rule of rules) {
      const key = formatRepository(rule.destination)
      const left = this.unfinished.get(key)
      if (left === undefined || left === 0) continue
      this.unfinished.set(key, left - 1)
      settledNow ||= left === 1
    }
    return settledNow ? this.release() : []
  }

  /** Some job of these rules still waits for other rules writing its destination. */
  holds(rules: readonly Rule[]): boolean {
    const texts = new Set(rules.map((rule) => rule.text))
    return this.held.some((entry) => texts.has(entry.job.rule))
  }

  private release(): Released[] {
    const out: Released[] = []
    const settled = (key: string) => this.unfinished.get(key) === 0
    const still: typeof this.held = []
    for (const entry of this.held) {
      if (![...entry.waiting].every(settled)) {
        still.push(entry)
        continue
      }
      const {job} = entry
      const source = formatReference(job.source)
      const kept: ImageReference[] = []
      for (const destination of destinationsOf(job)) {
        const sources = this.shared(destination) ? this.claims.get(formatReference({...destination, digest: undefined})) : undefined
        if (sources && sources.size > 1) {
          const message = tagClashMessage(destination, source, [...sources].sort())
          out.push({kind: 'error', rule: job.rule, error: new FerryError('DESTINATION_CLASH', message)})
        } else {
          kept.push(destination)
        }
      }
      const [first, ...rest] = kept
      if (kept.length === destinationsOf(job).length) out.push({kind: 'job', job})
      else if (first) out.push({kind: 'job', job: {...job, destination: first, extraDestinations: rest.length > 0 ? rest : undefined}})
    }
    this.held = still
    return out
  }
}
