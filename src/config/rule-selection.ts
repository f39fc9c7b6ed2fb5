/**
 * A rule written as a map instead of a destination string:
 *
 *   registry.a/team/app: {target: registry.b/mirror/app, includeTags: ['^v'], semver: '>=1.2 <2', latest: 3, platform: [linux/amd64]}
 *
 * Each key is checked here, so a wrong one fails its rule with the key's line and name.
 */
import {ConfigError} from '../errors.js'
import type {RuleSelection} from '../rule.js'
import {parsePlatforms} from '../select/platforms.js'
import {compileSelection, type SelectionLabels, type TagSelection} from '../select/tags.js'
import {kindOf} from './yaml.js'

export type {RuleSelection}

export interface RuleValue {
  /** The destination as written; empty means the default destination (--registry/--ns). */
  target: string
  selection?: RuleSelection
}

export const RULE_KEYS = ['target', 'includeTags', 'excludeTags', 'semver', 'latest', 'platform'] as const

const LABELS: SelectionLabels = {include: 'includeTags', exclude: 'excludeTags', semver: 'semver', latest: 'latest'}

/**
 * A rule's value: a string (or nothing) is the destination; a map is the destination under
 * `target` plus selection keys. `lineOf(key)` finds a key's line inside this rule.
 */
export function parseRuleValue(value: unknown, lineOf: (key: string) => number | undefined): RuleValue {
  if (value === null || value === undefined) return {target: ''}
  if (typeof value === 'string') return {target: value.trim()}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(
      `the destination must be a repository name or a map of ${RULE_KEYS.join(', ')}; found ${kindOf(value)}${Array.isArray(value) ? ' (one destination per rule)' : ''}`,
      {code: 'INVALID_RULE'},
    )
  }
  const map = value as Record<string, unknown>
  const fail = (key: string, message: string): never => {
    throw new ConfigError(`key ${JSON.stringify(key)}: ${message}`, {code: 'INVALID_RULE', line: lineOf(key)})
  }
  for (const key of Object.keys(map)) {
    if (!(RULE_KEYS as readonly string[]).includes(key)) fail(key, `not a rule key; the keys are ${RULE_KEYS.join(', ')}`)
  }
  const target = map.target
  if (target !== undefined && target !== null && typeof target !== 'string') fail('target', `must be a repository name; found ${kindOf(target)}`)

  const tags: TagSelection = {}
  const include = stringList(map.includeTags, () => fail('includeTags', 'must be a regular expression or a list of them'))
  const exclude = stringList(map.excludeTags, () => fail('excludeTags', 'must be a regular expression or a list of them'))
  if (include) tags.include = include
  if (exclude) tags.exclude = exclude
  if (map.semver !== undefined) {
    if (typeof map.semver !== 'string' && typeof map.semver !== 'number')
      fail('semver', `must be a semver range such as ">=1.2 <2"; found ${kindOf(map.semver)}`)
    tags.semver = String(map.semver)
  }
  if (map.latest !== undefined) {
    if (typeof map.latest !== 'number' || !Number.isInteger(map.latest) || map.latest < 1) {
      fail('latest', `must be a whole number of versions, 1 or more; found ${JSON.stringify(map.latest)}`)
    }
    tags.latest = map.latest as number
  }
  const selection: RuleSelection = {}
  if (Object.keys(tags).length > 0) {
    try {
      compileSelection(tags, LABELS)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      const key = (Object.keys(LABELS) as (keyof TagSelection)[]).find((name) => error.message.startsWith(`${LABELS[name]} `))
      fail(key ? LABELS[key] : 'includeTags', error.message.replace(/^\S+ /, ''))
    }
    selection.tags = tags
  }
  if (map.platform !== undefined) {
    const platforms = stringList(map.platform, () => fail('platform', 'must be a platform (linux/amd64) or a list of them'))!
    try {
      selection.platforms = parsePlatforms(platforms, 'platform')
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      fail('platform', error.message.replace(/^platform /, ''))
    }
    if (selection.platforms!.length === 0) fail('platform', 'lists no platform')
  }
  return {target: typeof target === 'string' ? target.trim() : '', ...(Object.keys(selection).length > 0 ? {selection} : {})}
}

function stringList(value: unknown, wrong: () => never): string[] | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') return [value]
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[]
  return wrong()
}
