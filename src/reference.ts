/**
 * Image references: `[registry/]repository[:tag][@digest]`, read the way docker reads them so a
 * name means the same image in ferry as in `docker pull`. Pure: no I/O, no defaults beyond docker's.
 */
import {isIPv6} from 'node:net'
import {ConfigError} from './errors.js'

export const DOCKER_HUB = 'docker.io'

export interface ImageReference {
  registry: string
  repository: string
  tag?: string
  digest?: string
}

/** A rule's side of a reference: several tags allowed; no tag at all means "every tag". */
export interface RepositoryAndTags {
  registry: string
  repository: string
  tags: string[]
  digest?: string
  /** Blank entries skipped in a tag list (`1.0,,2.0,`), for a warning. */
  emptyTags?: number
}

// Every name users write for Docker Hub; credentials and rules written under any of them must meet.
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'])
const HUB_ENDPOINT = 'registry-1.docker.io'

const NAME_MAX = 255
const TAG_MAX = 128
// Written with a mandatory separator per group: docker's `[-]*` form nests two quantifiers over
// the same characters, which a backtracking engine (unlike Go's) can take exponential time on.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/
const DIGEST_HEX: Record<string, number> = {sha256: 64, sha512: 128}

export function normalizeRegistry(host: string): string {
  const lower = host.trim().toLowerCase()
  return HUB_ALIASES.has(lower) ? DOCKER_HUB : lower
}

/** Where to send HTTP requests for a registry: Docker Hub's API lives on another host than its name. */
export function registryEndpoint(registry: string): string {
  return normalizeRegistry(registry) === DOCKER_HUB ? HUB_ENDPOINT : registry
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`
}

/** One image: at most one tag. Without tag or digest, `tag` stays undefined (no implicit `latest`). */
export function parseReference(text: string): ImageReference {
  const parts = splitReference(text)
  const ref: ImageReference = {registry: parts.registry, repository: parts.repository}
  if (parts.tagPart !== undefined) {
    if (parts.tagPart.includes(',')) fail(text, 'names several tags; a single image reference takes one')
    ref.tag = checkTag(text, parts.tagPart)
  }
  if (parts.digest !== undefined) ref.digest = parts.digest
  return ref
}

/**
 * The rule-file form: `repo:1.0,2.0,3.0` lists tags after the last `:` that follows the last `/`
 * (so a registry port is never taken for a tag). Blank entries are skipped because generated JSON
 * rule files end their lists with a comma; `tags` is empty when the text names no tag.
 */
export function parseRepositoryAndTags(text: string): RepositoryAndTags {
  const parts = splitReference(text)
  const tags: string[] = []
  let emptyTags = 0
  if (parts.tagPart !== undefined) {
    const seen = new Set<string>()
    for (const raw of parts.tagPart.split(',')) {
      const tag = raw.trim()
      if (tag === '') emptyTags++
      if (tag === '' || seen.has(tag)) continue
      seen.add(tag)
      tags.push(checkTag(text, tag))
    }
    if (tags.length === 0) fail(text, "has ':' but no tag after it")
  }
  const result: RepositoryAndTags = {registry: parts.registry, repository: parts.repository, tags}
  if (parts.digest !== undefined) result.digest = parts.digest
  if (emptyTags > 0) result.emptyTags = emptyTags
  return result
}

/** `host[:port]`, an IPv4 address or `[ipv6]:port`, normalized (lowercase, Docker Hub aliases folded). */
export function parseRegistryHost(text: string): string {
  const problem = hostProblem(text)
  if (problem) throw new ConfigError(`invalid registry ${quote(text)}: ${problem}`, {code: 'INVALID_REFERENCE'})
  return normalizeRegistry(text)
}

/** Why a `a/b/c` repository path is invalid, or undefined when it is fine. */
export function repositoryPathProblem(path: string): string | undefined {
  if (path === '') return 'repository name is empty'
  if (path.startsWith('/')) return "repository starts with '/'"
  if (path.endsWith('/')) return "repository ends with '/'"
  for (const component of path.split('/')) {
    const problem = componentProblem(component)
    if (problem) return problem
  }
  return undefined
}

interface Split {
  registry: string
  repository: string
  tagPart?: string
  digest?: string
}

function splitReference(text: string): Split {
  if (typeof text !== 'string' || text.trim() === '') fail(String(text), 'is empty')
  let name = text
  let digest: string | undefined
  const at = name.indexOf('@')
  if (at >= 0) {
    digest = checkDigest(text, name.slice(at + 1))
    name = name.slice(0, at)
  }
  let tagPart: string | undefined
  const colon = name.lastIndexOf(':')
  if (colon > name.lastIndexOf('/')) {
    tagPart = name.slice(colon + 1)
    name = name.slice(0, colon)
  }
  if (name === '') fail(text, 'has no repository name')
  if (name.length > NAME_MAX) fail(text, `name is ${name.length} characters long; the limit is ${NAME_MAX}`)

  let registry = DOCKER_HUB
  let path = name
  const slash = name.indexOf('/')
  if (slash >= 0) {
    const first = name.slice(0, slash)
    // docker's rule: only a first component that looks like a host is one; `user/app` is on Docker Hub.
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      const problem = hostProblem(first)
      if (problem) fail(text, `registry ${quote(first)}: ${problem}`)
      registry = normalizeRegistry(first)
      path = name.slice(slash + 1)
    }
  }
  const problem = repositoryPathProblem(path)
  if (problem) fail(text, problem)
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`

  const split: Split = {registry, repository: path}
  if (tagPart !== undefined) split.tagPart = tagPart
  if (digest !== undefined) split.digest = digest
  return split
}

function componentProblem(component: string): string | undefined {
  if (component === '') return "has an empty path component (a doubled or trailing '/')"
  if (COMPONENT.test(component)) return undefined
  const shown = quote(component)
  if (component === '.' || component === '..') return `path component ${shown} is not allowed`
  if (/[A-Z]/.test(component)) return `path component ${shown} has uppercase letters; repository names are lowercase`
  const bad = /[^a-z0-9._-]/.exec(component)
  if (bad) return `path component ${shown} has an invalid character ${quote(bad[0])}`
  if (/^[._-]|[._-]$/.test(component)) return `path component ${shown} must start and end with a letter or digit`
  return `path component ${shown} has a separator sequence other than '.', '_', '__' or dashes`
}

function hostProblem(host: string): string | undefined {
  let name = host
  let port: string | undefined
  if (host.startsWith('[')) {
    const close = host.indexOf(']')
    if (close < 0) return "has '[' without ']'"
    if (!isIPv6(host.slice(1, close))) return 'is not a valid IPv6 address in brackets'
    const rest = host.slice(close + 1)
    if (rest !== '') {
      if (!rest.startsWith(':')) return "has characters after ']' that are not a port"
      port = rest.slice(1)
    }
    name = ''
  } else {
    const colon = host.indexOf(':')
    if (colon >= 0) {
      name = host.slice(0, colon)
      port = host.slice(colon + 1)
    }
  }
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    return 'has an invalid port (1-65535)'
  }
  if (name === '' && !host.startsWith('[')) return 'has no host name'
  if (name !== '' && !name.split('.').every((label) => LABEL.test(label))) {
    return 'is not a valid host name (letters, digits, dashes, dot-separated)'
  }
  return undefined
}

function checkTag(text: string, tag: string): string {
  if (tag === '') fail(text, "has ':' but no tag after it")
  if (tag.length > TAG_MAX) fail(text, `tag is ${tag.length} characters long; the limit is ${TAG_MAX}`)
  if (!TAG.test(tag)) {
    fail(
      text,
      /^[.-]/.test(tag)
        ? `tag ${quote(tag)} must start with a letter, digit or '_'`
        : `tag ${quote(tag)} may only contain letters, digits, '.', '_' and '-'`,
    )
  }
  return tag
}

function checkDigest(text: string, digest: string): string {
  const colon = digest.indexOf(':')
  if (colon < 0) fail(text, "digest must look like 'sha256:' followed by 64 hex digits")
  const algorithm = digest.slice(0, colon)
  const hex = digest.slice(colon + 1)
  const want = DIGEST_HEX[algorithm]
  if (want === undefined) fail(text, `digest algorithm ${quote(algorithm)} is not supported (sha256 or sha512)`)
  if (!/^[0-9a-fA-F]*$/.test(hex)) fail(text, `${algorithm} digest has characters that are not hex digits`)
  if (/[A-F]/.test(hex)) fail(text, `${algorithm} digest must be lowercase hex`)
  if (hex.length !== want) fail(text, `${algorithm} digest has ${hex.length} hex digits; it needs ${want}`)
  return digest
}

function fail(text: string, reason: string): never {
  throw new ConfigError(`invalid image reference ${quote(text)}: ${reason}`, {code: 'INVALID_REFERENCE'})
}

/** Quoted and cut short, so a message stays one readable line whatever the user typed. */
export function quote(text: string, max = 120): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text
  return JSON.stringify(cut)
}
