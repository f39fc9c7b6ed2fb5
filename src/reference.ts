/**
 * Image references: `[registry/]repository[:tag][@digest]`, read the way docker reads them so a
 * name means the same image in ferry as in `docker pull`. Pure: no I/O, no defaults beyond docker's.
 */
import {isIPv6} from 'node:net'
import {ConfigError} from './errors.js'
import {digestProblem, NAME_MAX, quote, repositoryPathProblem, TAG_MAX, tagProblem} from './names.js'

// The grammar lives in names.ts, shared with the names that come from registries and providers.
export {quote, repositoryPathProblem}

export const DOCKER_HUB = 'docker.io'

/**
 * The one image reference type: a registry, a repository, and a tag or a digest (a job's source and
 * destinations carry both once the digest is known; a rule's side may carry neither).
 */
export interface ImageReference {
  registry: string
  repository: string
  tag?: string
  digest?: string
}

/** A rule's side of a reference: several tags allowed; no tag at all means "every tag". */
export interface RepositoryAndTags extends Omit<ImageReference, 'tag'> {
  tags: string[]
  /** Blank entries skipped in a tag list (`1.0,,2.0,`), for a warning. */
  emptyTags?: number
}

// Every name users write for Docker Hub; credentials and rules written under any of them must meet.
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'])
const HUB_ENDPOINT = 'registry-1.docker.io'

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/

export function normalizeRegistry(host: string): string {
  const lower = host.trim().toLowerCase()
  return HUB_ALIASES.has(lower) ? DOCKER_HUB : lower
}

/** Where to send HTTP requests for a registry: Docker Hub's API lives on another host than its name. */
export function registryEndpoint(registry: string): string {
  return normalizeRegistry(registry) === DOCKER_HUB ? HUB_ENDPOINT : registry
}

/** `registry/repository[:tag][@digest]`; an empty tag or digest counts as none. */
export function formatReference(ref: ImageReference): string {
  return `${formatRepository(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`
}

/** `registry/repository`: the key of a repository across registries (tag and digest left out). */
export function formatRepository(ref: Pick<ImageReference, 'registry' | 'repository'>): string {
  return `${ref.registry}/${ref.repository}`
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
  const problem = tagProblem(tag)
  if (problem) fail(text, tag.length > TAG_MAX ? `tag ${problem}` : `tag ${quote(tag)} ${problem}`)
  return tag
}

function checkDigest(text: string, digest: string): string {
  const problem = digestProblem(digest)
  if (problem) fail(text, problem.reason)
  return digest
}

function fail(text: string, reason: string): never {
  throw new ConfigError(`invalid image reference ${quote(text)}: ${reason}`, {code: 'INVALID_REFERENCE'})
}
