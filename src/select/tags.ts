/**
 * Which listed tags of a repository to copy: regular expressions, a semver range and the N
 * highest versions. `--latest` can only choose once the whole listing is known, so a selection is
 * a list → list function; `keep` is its per-tag part, used to stream when nothing needs the list.
 */
import {createRequire} from 'node:module'

import type SemVer from 'semver'

import {ConfigError} from '../errors.js'

// Required on first use: most runs select no versions, and loading semver is 20 ms of a start-up
// that a no-change run of a few hundred tags pays in full.
const require = createRequire(import.meta.url)
let loadedSemver: typeof SemVer | undefined
const semver = (): typeof SemVer => (loadedSemver ??= require('semver') as typeof SemVer)

/** The filters of a run (flags) or of one rule (rule file), applied include → exclude → semver → latest. */
export interface TagSelection {
  include?: readonly string[]
  exclude?: readonly string[]
  semver?: string
  latest?: number
}

export interface TagSelector {
  /** The per-tag stages; with no `latest`, a tag is selected exactly when this holds. */
  keep(tag: string): boolean
  /** True when choosing needs every tag of the repository first (some stage has `latest`). */
  needsAll: boolean
  /** The selected tags of a whole listing, in listing order. */
  choose(tags: readonly string[]): string[]
}

/** How each setting is named in messages: a flag (`--semver`) or a rule key (`semver`). */
export type SelectionLabels = Record<keyof TagSelection, string>

export const FLAG_LABELS: SelectionLabels = {include: '--includeTags', exclude: '--excludeTags', semver: '--semver', latest: '--latest'}

/** The version a tag stands for, or undefined when it is none (`latest`, `stable`). `v1.2.0` is one. Pure. */
export function tagVersion(tag: string): string | undefined {
  // semver.valid also reads `=1.2.0` and ` 1.2.0`; only a bare version or a leading `v` count.
  if (!/^v?\d/.test(tag)) return undefined
  return semver().valid(tag) ?? undefined
}

/** One run's or rule's selection as a function; undefined when it selects everything. Throws ConfigError for a bad setting. */
export function compileSelection(selection: TagSelection | undefined, labels: SelectionLabels = FLAG_LABELS): TagSelector | undefined {
  if (!selection) return undefined
  const include = (selection.include ?? []).map((source) => compileRegExp(source, labels.include))
  const exclude = (selection.exclude ?? []).map((source) => compileRegExp(source, labels.exclude))
  let range: SemVer.Range | undefined
  if (selection.semver !== undefined) {
    try {
      range = new (semver().Range)(selection.semver)
    } catch {
      throw new ConfigError(`${labels.semver} ${JSON.stringify(selection.semver)} is not a semver range (e.g. ">=1.2 <2", "^1.4", "~2.0.1")`)
    }
  }
  const latest = selection.latest
  if (latest !== undefined && (!Number.isInteger(latest) || latest < 1)) {
    throw new ConfigError(`${labels.latest} ${JSON.stringify(latest)} is not a whole number of versions (1 or more)`)
  }
  if (include.length === 0 && exclude.length === 0 && !range && latest === undefined) return undefined

  const keep = (tag: string): boolean => {
    if (include.length > 0 && !include.some((re) => re.test(tag))) return false
    if (exclude.some((re) => re.test(tag))) return false
    if (range || latest !== undefined) {
      const version = tagVersion(tag)
      if (version === undefined) return false
      if (range && !semver().satisfies(version, range)) return false
    }
    return true
  }
  return {
    keep,
    needsAll: latest !== undefined,
    choose(tags) {
      const kept = tags.filter(keep)
      if (latest === undefined) return kept
      return highestVersions(kept, latest)
    },
  }
}

/**
 * The `count` highest versions among tags (all of them versions), in their original order. Two
 * tags of one version (`1.2.0`, `v1.2.0`) are both kept when that version is chosen. Pure.
 */
export function highestVersions(tags: readonly string[], count: number): string[] {
  const versions = [...new Set(tags.map((tag) => tagVersion(tag)!))].sort(semver().rcompare).slice(0, count)
  const chosen = new Set(versions)
  return tags.filter((tag) => chosen.has(tagVersion(tag)!))
}

/** Stages applied one after the other (the run's, then a rule's); undefined when there is none. */
export function chainSelectors(...selectors: (TagSelector | undefined)[]): TagSelector | undefined {
  const stages = selectors.filter((selector): selector is TagSelector => selector !== undefined)
  if (stages.length === 0) return undefined
  if (stages.length === 1) return stages[0]
  return {
    keep: (tag) => stages.every((stage) => stage.keep(tag)),
    needsAll: stages.some((stage) => stage.needsAll),
    choose: (tags) => stages.reduce<string[]>((list, stage) => stage.choose(list), [...tags]),
  }
}

/** A per-tag predicate (the engine's `tagFilter`) as a selector stage. */
export function predicateSelector(predicate: ((tag: string) => boolean) | undefined): TagSelector | undefined {
  if (!predicate) return undefined
  return {keep: predicate, needsAll: false, choose: (tags) => tags.filter(predicate)}
}

function compileRegExp(source: string, label: string): RegExp {
  try {
    return new RegExp(source)
  } catch (error) {
    throw new ConfigError(
      `${label} ${JSON.stringify(source)} is not a regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`,
    )
  }
}
