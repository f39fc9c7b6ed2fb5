/**
 * One rule, as every input format (rule files, image-syncer, skopeo sync, providers) yields it:
 * the engine's input. Below both config/ (which writes rules) and pipeline/ (which expands them
 * into jobs), so neither imports the other. Pure.
 */
import type {ImageReference} from './reference.js'
import type {Platform} from './select/platforms.js'
import {flattenDestination, mapUnderPrefix} from './select/repository-paths.js'
import type {TagSelection} from './select/tags.js'

export interface Rule {
  /** The source key as written, for messages. */
  text: string
  file?: string
  line?: number
  source: RuleSource
  /** With a multi-tag or all-tags source, `tag` is absent and each tag keeps its name. With a pattern, `repository` is the destination prefix. */
  destination: ImageReference
  /** Tag filters and platforms written in the rule (a rule whose value is a map). */
  selection?: RuleSelection
  /** --flatten's separator, kept for the repositories a pattern rule expands to. */
  flattenSeparator?: string
  /**
   * How the destination repository was derived when the user did not write it out. Such a mapping
   * may send two source repositories to one destination repository, which the generator refuses
   * (see pipeline/clash.ts); a destination written out may merge repositories on purpose.
   */
  mapping?: DestinationMapping
}

/**
 * A rule's source: a repository and which of its images. `digest` set: copy exactly that manifest
 * (tags is then absent). Otherwise `tags` lists the tags to copy, and undefined means every tag the
 * source repository has.
 */
export interface RuleSource extends Omit<ImageReference, 'tag'> {
  tags?: string[]
  /**
   * image-syncer's `repo:/regex/`: every listed tag the pattern finds (a search, as RegExp.test).
   * Only with `tags` and `digest` absent.
   */
  tagPattern?: string
  /**
   * Set for a key `registry/prefix/*` (`**`): `repository` is the prefix ('' = the whole
   * registry) and the rule stands for every catalog repository under it (see expandPattern).
   */
  pattern?: '*' | '**'
}

/**
 * `default`: an empty destination (--registry/--ns); `flatten`: --flatten joined the path;
 * `toNamespace`: a provider's --toNamespace; `pattern`: a `prefix/**` rule's repository.
 */
export type DestinationMapping = 'default' | 'flatten' | 'toNamespace' | 'pattern'

/** What a rule selects beyond its source key; applied in addition to the run's flags. */
export interface RuleSelection {
  tags?: TagSelection
  /** Replaces the run's --platform for this rule. */
  platforms?: Platform[]
}

/** The rule a pattern rule stands for at one repository of the source catalog. Pure. */
export function expandPattern(rule: Rule, repository: string): Rule {
  let destination = mapUnderPrefix(repository, rule.source.repository, rule.destination.repository)
  if (rule.flattenSeparator !== undefined) destination = flattenDestination(destination, rule.flattenSeparator)
  const {pattern: _pattern, ...source} = rule.source
  return {
    ...rule,
    text: `${rule.source.registry}/${repository}`,
    source: {...source, repository},
    destination: {registry: rule.destination.registry, repository: destination},
    mapping: rule.flattenSeparator !== undefined ? 'flatten' : 'pattern',
  }
}
