/**
 * image-transfer's rule file: a YAML or JSON map from source repository to destination. Each rule
 * stands alone, so a broken rule is reported with its file and line and the others still run.
 */
import {readFile} from 'node:fs/promises'
import {ConfigError} from '../errors.js'
import {
  DOCKER_HUB,
  parseRegistryHost,
  parseRepositoryAndTags,
  quote,
  repositoryPathProblem,
  type RepositoryAndTags,
} from '../reference.js'
import {isPlainMap, kindOf, loadYaml, scanKeys, topLevelLines, yamlKeyOf} from './yaml.js'

export interface Rule {
  /** The source key as written, for messages. */
  text: string
  file?: string
  line?: number
  /**
   * `digest` set: copy exactly that manifest (tags is then absent). Otherwise `tags` lists the tags
   * to copy, and undefined means every tag the source repository has.
   */
  source: {
    registry: string
    repository: string
    tags?: string[]
    digest?: string
    /**
     * image-syncer's `repo:/regex/`: every listed tag the pattern finds (a search, as RegExp.test).
     * Only with `tags` and `digest` absent.
     */
    tagPattern?: string
  }
  /** With a multi-tag or all-tags source, `tag` is absent and each tag keeps its name. */
  destination: {registry: string; repository: string; tag?: string; digest?: string}
}

export interface RuleDefaults {
  registry?: string
  namespace?: string
}

export interface ParsedRules {
  rules: Rule[]
  errors: ConfigError[]
  /** Things ferry read past on purpose (an empty tag in a list), one line each with file and line. */
  warnings: string[]
}

/** A flag wins over its environment variable; empty values count as unset. */
export function defaultsFromEnv(flags: {registry?: string; ns?: string}, env: NodeJS.ProcessEnv = process.env): RuleDefaults {
  const pick = (...values: (string | undefined)[]) => values.map((v) => v?.trim()).find((v) => v)
  const defaults: RuleDefaults = {}
  const registry = pick(flags.registry, env.DEFAULT_REGISTRY)
  const namespace = pick(flags.ns, env.DEFAULT_NAMESPACE)
  if (registry) defaults.registry = registry
  if (namespace) defaults.namespace = namespace
  return defaults
}

export async function loadRuleFile(file: string, defaults: RuleDefaults): Promise<ParsedRules> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'unreadable'
    throw new ConfigError(`cannot read rule file (${code})`, {file})
  }
  return parseRules(text, file, defaults)
}

/**
 * Reads one `source: destination` entry into rules. The default reads image-transfer's forms (one
 * rule per entry); other formats (image-syncer's extensions) pass their own.
 */
export type EntryParser = (key: string, value: unknown, defaults: CheckedDefaults) => ParsedRule[]

export function parseRules(
  text: string,
  file: string,
  defaults: RuleDefaults,
  options: {entry?: EntryParser} = {},
): ParsedRules {
  const parseEntry: EntryParser = options.entry ?? ((key, value, checked) => [parseRule(key, value, checked)])
  const fallback = checkDefaults(defaults)
  const {value: doc, duplicateLine} = loadYaml(text, file, {duplicates: 'report', what: 'rule', code: 'INVALID_CONFIG'})
  if (doc === null || doc === undefined) return {rules: [], errors: [], warnings: []}
  if (!isPlainMap(doc)) {
    throw new ConfigError(`a rule file is a map from source to destination; this one is ${kindOf(doc)}`, {file})
  }

  const rules: Rule[] = []
  const errors: ConfigError[] = []
  const warnings: string[] = []
  const ruleError = (message: string, line?: number) => errors.push(new ConfigError(message, {file, line, code: 'INVALID_RULE'}))

  // Keys js-yaml has already flattened (repeats merged, `1.10` read as a number) are found again
  // in the text, so those rules fail with their lines instead of copying something unintended.
  const keys = scanKeys(text)
  const lines = topLevelLines(keys)
  const skip = new Set<string>()
  for (const k of keys) {
    if (!k.top) continue
    const {key, typed} = yamlKeyOf(k)
    if (typed && !skip.has(key)) {
      skip.add(key)
      ruleError(`rule ${quote(k.key)}: YAML reads this source as ${typed}, not a repository name; quote it if it is one`, k.line)
    }
  }
  let duplicateExplained = duplicateLine === undefined
  for (const [key, at] of lines) {
    if (at.length < 2 || skip.has(key)) continue
    skip.add(key)
    if (at.includes(duplicateLine!)) duplicateExplained = true
    const times = at.length === 2 ? 'twice' : `${at.length} times`
    ruleError(`rule ${quote(key)} is written ${times} (lines ${listLines(at)}); a source may appear once, so merge them`, at[0])
  }
  // A repeat inside a nested map belongs to a rule that fails anyway (its destination is a map).
  if (!duplicateExplained && !keys.some((k) => !k.top && k.line === duplicateLine)) {
    ruleError('a rule source appears more than once; a source may appear once, so merge them', duplicateLine)
  }

  for (const [key, value] of Object.entries(doc)) {
    if (skip.has(key)) continue
    const line = lines.get(key)?.[0]
    try {
      for (const parsed of parseEntry(key, value, fallback)) {
        const rule: Rule = {text: key, file, ...parsed}
        if (line !== undefined) rule.line = line
        rules.push(rule)
      }
      // image-transfer's generated JSON ends tag lists with a comma: read past, but say so.
      const empty = emptyTagsOf(key)
      if (empty) warnings.push(`${file}${line ? `:${line}` : ''}: rule ${quote(key)}: ${empty === 1 ? 'an empty tag' : `${empty} empty tags`} in the tag list ignored`)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      ruleError(`rule ${quote(key)}: ${error.message}`, line)
    }
  }
  errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
  return {rules, errors, warnings}
}

export type ParsedRule = Pick<Rule, 'source' | 'destination'>
type Parsed = ParsedRule

/** One image-transfer entry; throws a rule-local ConfigError that the caller places. */
export function parseRule(key: string, value: unknown, defaults: CheckedDefaults): Parsed {
  const src = side('source', key.trim())
  if (src.digest && src.tags.length > 1) problem('the source has a digest and several tags; a digest names one manifest')
  const source: Rule['source'] = {registry: src.registry, repository: src.repository}
  if (src.digest) source.digest = src.digest
  else if (src.tags.length > 0) source.tags = src.tags

  if (value !== null && value !== undefined && typeof value !== 'string') {
    problem(`the destination must be a repository name; found ${kindOf(value)}${Array.isArray(value) ? ' (one destination per rule)' : ''}`)
  }
  const written = typeof value === 'string' ? value.trim() : ''
  const destination = written === '' ? defaultDestination(src, defaults) : explicitDestination(src, side('destination', written))

  if (
    destination.registry === source.registry &&
    destination.repository === source.repository &&
    (destination.tag === undefined || source.tags?.length === 1 && destination.tag === source.tags[0]) &&
    (destination.digest === undefined || destination.digest === source.digest)
  ) {
    problem('the destination is the source itself')
  }
  return {source, destination}
}

export function explicitDestination(src: RepositoryAndTags, dst: RepositoryAndTags): Rule['destination'] {
  if (dst.tags.length > 1) problem('the destination names several tags; give it one tag or none')
  const tag = dst.tags[0]
  const destination: Rule['destination'] = {registry: dst.registry, repository: dst.repository}

  if (src.digest) {
    if (dst.digest && dst.digest !== src.digest) {
      problem('the destination digest differs from the source digest; a copy keeps its digest')
    }
    // `repo:1.2@sha256:…` pins the manifest and still says which tag it is, so that tag is the default.
    const destTag = tag ?? (dst.digest ? undefined : src.tags[0])
    if (destTag === undefined && !dst.digest) {
      problem('the source is a digest, so the destination needs a tag (:tag) or the same digest (@sha256:…) to push by digest')
    }
    if (destTag !== undefined) destination.tag = destTag
    if (dst.digest) destination.digest = dst.digest
    return destination
  }
  if (dst.digest) problem('the destination has a digest, which only a source given by that digest can have')
  if (src.tags.length === 0 && tag !== undefined) {
    problem('the source names no tag, so every tag is copied under its own name; drop the destination tag or give the source one')
  }
  if (src.tags.length > 1 && tag !== undefined) {
    problem('the source names several tags, which keep their names; drop the destination tag')
  }
  if (src.tags.length === 1) destination.tag = tag ?? src.tags[0]
  return destination
}

/**
 * `<registry>/<ns>/<repository without its first component>`: the first component is the source's
 * namespace (`library`, `coreos`), which the default namespace replaces.
 */
export function defaultDestination(src: RepositoryAndTags, defaults: CheckedDefaults): Rule['destination'] {
  if (defaults.registry === undefined && defaults.namespace === undefined) {
    problem('has no destination and there is no default; give --registry/--ns or set DEFAULT_REGISTRY/DEFAULT_NAMESPACE')
  }
  const registry = defaults.registry ?? DOCKER_HUB
  let repository = src.repository
  if (defaults.namespace !== undefined) {
    const components = repository.split('/')
    repository = `${defaults.namespace}/${components.length > 1 ? components.slice(1).join('/') : components[0]}`
  } else if (registry === DOCKER_HUB && !repository.includes('/')) {
    repository = `library/${repository}`
  }
  if (registry.length + 1 + repository.length > 255) {
    problem(`the default destination ${registry}/${repository} is longer than 255 characters`)
  }
  const destination: Rule['destination'] = {registry, repository}
  if (src.digest) {
    // Keeping the reference: a digest stays a digest, and a tag written beside it stays the tag.
    destination.digest = src.digest
    if (src.tags[0] !== undefined) destination.tag = src.tags[0]
  } else if (src.tags.length === 1) {
    destination.tag = src.tags[0]
  }
  return destination
}

export interface CheckedDefaults {
  registry?: string
  namespace?: string
}

/** Defaults come from flags or the environment, not the file, so a bad one fails the whole run. */
export function checkDefaults(defaults: RuleDefaults): CheckedDefaults {
  const checked: CheckedDefaults = {}
  const registryText = defaults.registry?.trim().replace(/\/+$/, '')
  if (registryText) {
    const label = `default registry (--registry or DEFAULT_REGISTRY) ${quote(registryText)}`
    let registry: string
    try {
      registry = parseRegistryHost(registryText)
    } catch (error) {
      throw new ConfigError(`${label}: ${(error as Error).message}`)
    }
    // A bare word would be read back as a Docker Hub namespace by every docker-compatible tool.
    if (!/[.:]/.test(registry) && registry !== 'localhost') {
      throw new ConfigError(`${label} is not a host name with a '.' or a port, so it would be read as a Docker Hub namespace`)
    }
    checked.registry = registry
  }
  const namespace = defaults.namespace?.trim().replace(/^\/+|\/+$/g, '')
  if (namespace) {
    const wrong = repositoryPathProblem(namespace)
    if (wrong) throw new ConfigError(`default namespace (--ns or DEFAULT_NAMESPACE) ${quote(namespace)}: ${wrong}`)
    checked.namespace = namespace
  }
  return checked
}

export function side(which: 'source' | 'destination', text: string): RepositoryAndTags {
  try {
    return parseRepositoryAndTags(text)
  } catch (error) {
    if (error instanceof ConfigError) problem(`${which}: ${error.message}`)
    throw error
  }
}

/** Blank entries in the key's tag list; 0 for keys only another format's entry parser reads (`repo:/regex/`). */
function emptyTagsOf(key: string): number {
  try {
    return parseRepositoryAndTags(key.trim()).emptyTags ?? 0
  } catch {
    return 0
  }
}

function listLines(lines: number[]): string {
  const unique = [...new Set(lines)]
  // A generated file can repeat a key thousands of times; the message stays one readable line.
  if (unique.length > 10) return `${unique.slice(0, 9).join(', ')} and ${unique.length - 9} more`
  return unique.length === 1 ? `${unique[0]}` : `${unique.slice(0, -1).join(', ')} and ${unique.at(-1)}`
}

/** A rule-local failure; parseRules adds the file, line and rule text. */
export function problem(message: string): never {
  throw new ConfigError(message, {code: 'INVALID_RULE'})
}
