/**
 * image-transfer's rule file: a YAML or JSON map from source repository to destination. Each rule
 * stands alone, so a broken rule is reported with its file and line and the others still run.
 */
import {readFile} from 'node:fs/promises'
import {ConfigError} from '../errors.js'
import {DOCKER_HUB, parseRegistryHost, parseRepositoryAndTags, quote, repositoryPathProblem, type ImageReference, type RepositoryAndTags} from '../reference.js'
import type {DestinationMapping, Rule, RuleSource} from '../rule.js'
import {flattenDestination, joinPath, splitPattern} from '../select/repository-paths.js'
import {parseRuleValue} from './rule-selection.js'
import {isPlainMap, kindOf, loadYaml, scanKeys, topLevelLines, yamlKeyOf, type KeyAt} from './yaml.js'

// Rule lives in src/rule.ts, below config/ and pipeline/; the parsers' callers find it here too.
export type {DestinationMapping, Rule, RuleSource}

export interface RuleDefaults {
  registry?: string
  namespace?: string
  /** --flatten: destination paths below the namespace are joined with this separator. */
  flatten?: string
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
export type EntryParser = (key: string, value: unknown, defaults: CheckedDefaults, lineOf?: KeyLines) => ParsedRule[]

export function parseRules(text: string, file: string, defaults: RuleDefaults, options: {entry?: EntryParser} = {}): ParsedRules {
  const parseEntry: EntryParser = options.entry ?? ((key, value, checked, lineOf) => [parseRule(key, value, checked, lineOf)])
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
  // A repeat inside a rule written as a map fails that rule: js-yaml kept only the last value.
  const nestedRepeat = duplicateExplained ? undefined : repeatedNestedKey(keys, duplicateLine!)
  if (nestedRepeat) {
    const {key: owner} = yamlKeyOf(nestedRepeat.owner)
    skip.add(owner)
    ruleError(`rule ${quote(owner)}: key ${quote(nestedRepeat.key)} is written twice; each key may appear once`, duplicateLine)
  } else if (!duplicateExplained) {
    ruleError('a rule source appears more than once; a source may appear once, so merge them', duplicateLine)
  }

  const nested = nestedKeyLines(keys)
  for (const [key, value] of Object.entries(doc)) {
    if (skip.has(key)) continue
    const line = lines.get(key)?.[0]
    try {
      for (const parsed of parseEntry(key, value, fallback, (name) => nested.get(key)?.get(name))) {
        const rule: Rule = {text: key, file, ...parsed}
        if (line !== undefined) rule.line = line
        rules.push(rule)
      }
      // image-transfer's generated JSON ends tag lists with a comma: read past, but say so.
      const empty = emptyTagsOf(key)
      if (empty)
        warnings.push(`${file}${line ? `:${line}` : ''}: rule ${quote(key)}: ${empty === 1 ? 'an empty tag' : `${empty} empty tags`} in the tag list ignored`)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      ruleError(`rule ${quote(key)}: ${error.message}`, error.line ?? line)
    }
  }
  errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
  return {rules, errors, warnings}
}

export type ParsedRule = Pick<Rule, 'source' | 'destination' | 'selection' | 'flattenSeparator' | 'mapping'>
type Parsed = ParsedRule

/** Where a key nested in a rule written as a map is, for messages. */
export type KeyLines = (key: string) => number | undefined

/** One image-transfer entry; throws a rule-local ConfigError that the caller places. */
export function parseRule(key: string, value: unknown, defaults: CheckedDefaults, lineOf: KeyLines = () => undefined): Parsed {
  const {target: written, selection} = parseRuleValue(value, lineOf)
  const pattern = splitPattern(key)
  if (pattern) return {...parsePatternRule(pattern.prefixText, pattern.depth, written, defaults), ...(selection ? {selection} : {})}
  const src = side('source', key.trim())
  if (selection?.tags && (src.tags.length > 0 || src.digest)) {
    problem('includeTags, excludeTags, semver and latest choose among listed tags, and this source names its tags; drop them or the tags')
  }
  if (src.digest && src.tags.length > 1) problem('the source has a digest and several tags; a digest names one manifest')
  const source: RuleSource = {registry: src.registry, repository: src.repository}
  if (src.digest) source.digest = src.digest
  else if (src.tags.length > 0) source.tags = src.tags

  const destination = written === '' ? defaultDestination(src, defaults) : explicitDestination(src, side('destination', written))
  let mapping: DestinationMapping | undefined = written === '' ? (defaults.flatten !== undefined ? 'flatten' : 'default') : undefined
  if (written !== '' && defaults.flatten !== undefined) {
    const flattened = flattenDestination(destination.repository, defaults.flatten)
    // Only a path --flatten changed is ferry's doing; one it left alone is as the user wrote it.
    if (flattened !== destination.repository) mapping = 'flatten'
    destination.repository = flattened
  }

  if (
    destination.registry === source.registry &&
    destination.repository === source.repository &&
    (destination.tag === undefined || (source.tags?.length === 1 && destination.tag === source.tags[0])) &&
    (destination.digest === undefined || destination.digest === source.digest)
  ) {
    problem('the destination is the source itself')
  }
  return {source, destination, ...(selection ? {selection} : {}), ...(mapping ? {mapping} : {})}
}

/** `registry.a/team/**: registry.b/mirror`: every repository under team/ to the same path under mirror/. */
function parsePatternRule(prefixText: string, depth: '*' | '**', written: string, defaults: CheckedDefaults): Parsed {
  let registry: string
  let prefix: string
  if (!prefixText.includes('/') && /[.:]|^localhost$/.test(prefixText)) {
    registry = side('source', `${prefixText}/x`).registry
    prefix = ''
  } else {
    const src = side('source', prefixText)
    if (src.tags.length > 0 || src.digest) problem(`a repository pattern (/${depth}) takes no tag or digest; select tags with includeTags, semver or latest`)
    if (src.registry === DOCKER_HUB)
      problem(`a repository pattern (/${depth}) needs the registry's catalog, which Docker Hub does not offer; name the repositories`)
    registry = src.registry
    prefix = src.repository
  }
  if (written === '') problem(`a repository pattern (/${depth}) needs a destination prefix (registry/namespace) to put the repositories under`)
  const dst = side('destination', written)
  if (dst.tags.length > 0 || dst.digest) problem('the destination of a repository pattern is a prefix; it takes no tag or digest')
  return {
    source: {registry, repository: prefix, pattern: depth},
    destination: {registry: dst.registry, repository: dst.repository},
    ...(defaults.flatten !== undefined ? {flattenSeparator: defaults.flatten} : {}),
  }
}

/** The nested key on `line` that repeats an earlier sibling under the same rule, with that rule's key. */
function repeatedNestedKey(keys: KeyAt[], line: number): {key: string; owner: KeyAt} | undefined {
  for (const k of keys) {
    if (k.top || k.line !== line) continue
    const owner = keys.findLast((t) => t.top && t.offset < k.offset)
    if (!owner) continue
    if (keys.some((e) => !e.top && e.key === k.key && e.level === k.level && e.offset > owner.offset && e.offset < k.offset)) return {key: k.key, owner}
  }
  return undefined
}

/** The lines of the keys nested under each top-level key (a rule written as a map). */
function nestedKeyLines(keys: KeyAt[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>()
  let current: Map<string, number> | undefined
  for (const k of keys) {
    if (k.top) {
      const name = yamlKeyOf(k).key
      current = out.get(name) ?? new Map()
      out.set(name, current)
    } else if (current && !current.has(k.key)) {
      current.set(k.key, k.line)
    }
  }
  return out
}

export function explicitDestination(src: RepositoryAndTags, dst: RepositoryAndTags): ImageReference {
  if (dst.tags.length > 1) problem('the destination names several tags; give it one tag or none')
  const tag = dst.tags[0]
  const destination: ImageReference = {registry: dst.registry, repository: dst.repository}

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
export function defaultDestination(src: RepositoryAndTags, defaults: CheckedDefaults): ImageReference {
  if (defaults.registry === undefined && defaults.namespace === undefined) {
    problem('has no destination and there is no default; give --registry/--ns or set DEFAULT_REGISTRY/DEFAULT_NAMESPACE')
  }
  const registry = defaults.registry ?? DOCKER_HUB
  let repository = src.repository
  if (defaults.flatten !== undefined) {
    // Docker Hub's implicit `library/` is no part of the name users wrote.
    const path = registry !== DOCKER_HUB && src.registry === DOCKER_HUB ? repository.replace(/^library\//, '') : repository
    const joined = joinPath(path, defaults.flatten)
    repository = defaults.namespace !== undefined ? `${defaults.namespace}/${joined}` : joined
  } else if (defaults.namespace !== undefined) {
    const components = repository.split('/')
    repository = `${defaults.namespace}/${components.length > 1 ? components.slice(1).join('/') : components[0]}`
  } else if (registry === DOCKER_HUB && !repository.includes('/')) {
    repository = `library/${repository}`
  }
  if (registry.length + 1 + repository.length > 255) {
    problem(`the default destination ${registry}/${repository} is longer than 255 characters`)
  }
  const destination: ImageReference = {registry, repository}
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
  flatten?: string
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
  if (defaults.flatten !== undefined) {
    if (!/^(?:[._]|__|-+)$/.test(defaults.flatten)) {
      throw new ConfigError(`--flattenSeparator ${quote(defaults.flatten)}: a repository path component may only join with '-', '_', '__', '.' (or '--')`)
    }
    checked.flatten = defaults.flatten
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
