/**
 * image-syncer's additions to the rule forms image-transfer reads: a regular expression as the tag
 * part (`repo:/^v1\./`), several destination tags renaming the source tags left to right
 * (`a:1,2: b:x,y`), and a list of destinations for one source. Every one of them is an error in
 * image-transfer's grammar, so a rule.yaml may use them without changing what its other rules mean.
 */
import {quote} from '../../reference.js'
import {parseRule, problem, side, type CheckedDefaults, type EntryParser, type KeyLines, type ParsedRule} from '../rules.js'
import {kindOf} from '../yaml.js'

/** `registry/repo:/pattern/` → the repository text and the pattern's source; undefined otherwise. */
export function splitTagPattern(key: string): {repository: string; pattern: string} | undefined {
  // The first `:/` ends the repository: a valid repository name never contains one.
  const match = /^(.*?):\/(.*)\/$/s.exec(key.trim())
  if (!match) return undefined
  return {repository: match[1]!, pattern: match[2]!}
}

export const syncerEntry: EntryParser = (key, value, defaults, lineOf) => {
  if (!Array.isArray(value)) return oneDestination(key, value, defaults, lineOf)
  if (value.length === 0) problem('has an empty list of destinations')
  const rules: ParsedRule[] = []
  const seen = new Set<string>()
  value.forEach((item, index) => {
    if (item !== null && typeof item !== 'string') {
      problem(`destination ${index + 1} of the list must be a repository name; found ${kindOf(item)}`)
    }
    const written = (item ?? '').trim()
    if (seen.has(written)) problem(`lists the destination ${quote(written)} twice`)
    seen.add(written)
    rules.push(...oneDestination(key, item, defaults))
  })
  return rules
}

function oneDestination(key: string, value: unknown, defaults: CheckedDefaults, lineOf?: KeyLines): ParsedRule[] {
  const written = typeof value === 'string' ? value.trim() : ''
  const tagged = splitTagPattern(key)
  if (tagged) return [patternRule(tagged, value, written, defaults, lineOf)]
  if (written !== '' && typeof value === 'string') {
    const destination = side('destination', written)
    const destinationTags = tagCount(written)
    if (destinationTags > 1) {
      const source = side('source', key.trim())
      if (source.digest) problem('the source is a digest, so the destination takes one tag')
      const sourceTags = tagCount(key)
      if (sourceTags !== destinationTags || source.tags.length !== destination.tags.length) {
        problem(
          `the destination names ${destinationTags} tags for ${sourceTags} source tag${sourceTags === 1 ? '' : 's'}; ` +
            'tags are renamed left to right, so give as many destination tags as source tags, each once',
        )
      }
      const from = `${source.registry}/${source.repository}`
      const to = `${destination.registry}/${destination.repository}`
      return source.tags.map((tag, i) => parseRule(`${from}:${tag}`, `${to}:${destination.tags[i]}`, defaults))
    }
  }
  return [parseRule(key, value, defaults, lineOf)]
}

function patternRule(tagged: {repository: string; pattern: string}, value: unknown, written: string, defaults: CheckedDefaults, lineOf?: KeyLines): ParsedRule {
  if (tagged.pattern === '') problem('has an empty tag pattern (//); drop the tag part to copy every tag')
  try {
    new RegExp(tagged.pattern)
  } catch (error) {
    problem(`the tag pattern /${tagged.pattern}/ is not a regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`)
  }
  const source = side('source', tagged.repository)
  if (source.tags.length > 0 || source.digest) problem('has a tag pattern and a tag or digest; give one of them')
  if (written !== '' && typeof value === 'string') {
    const destination = side('destination', written)
    if (destination.tags.length > 0 || destination.digest) {
      problem('a tag pattern copies each matching tag under its own name; drop the destination tag')
    }
  }
  const rule = parseRule(tagged.repository, value, defaults, lineOf)
  rule.source.tagPattern = tagged.pattern
  return rule
}

/** Tags as written, blanks skipped and repeats counted, so `x,x` is not taken for one tag. */
function tagCount(text: string): number {
  const name = text.trim().replace(/@.*$/s, '')
  const colon = name.lastIndexOf(':')
  if (colon <= name.lastIndexOf('/')) return 0
  return name
    .slice(colon + 1)
    .split(',')
    .filter((tag) => tag.trim() !== '').length
}
