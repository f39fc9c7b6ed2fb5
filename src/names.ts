/**
 * The distribution spec's grammar for names: repository paths, tags and digests. One copy of it,
 * used for the names users write (reference.ts) and for every name that reaches ferry from
 * outside its own files: tag lists, catalogs, provider APIs, layouts, events and the descriptors
 * inside manifests. A name from outside is checked here before it is put into a URL, a path or a
 * log line; a refused one is shown escaped, so a name cannot forge a log line or drive a terminal.
 * Pure: no I/O.
 */
import {escapeControl} from './control-chars.js'
import {FerryError} from './errors.js'

/** The longest repository path the spec allows. */
export const NAME_MAX = 255
export const TAG_MAX = 128
// Written with a mandatory separator per group: docker's `[-]*` form nests two quantifiers over
// the same characters, which a backtracking engine (unlike Go's) can take exponential time on.
export const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/
/** The algorithms ferry verifies, and the length of their hex encoding. */
export const DIGEST_HEX: Readonly<Record<string, number>> = {sha256: 64, sha512: 128}

/** Quoted, escaped and cut short, so a message stays one readable line whatever a name holds. */
export function quote(text: string, max = 120): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text
  // Quotes and backslashes escaped too, so the quoted name cannot end early or fake an escape.
  return `"${escapeControl(cut.replace(/["\\]/g, (char) => `\\${char}`))}"`
}

/** Why a `a/b/c` repository path is invalid, or undefined when it is fine. */
export function repositoryPathProblem(path: string): string | undefined {
  if (path === '') return 'repository name is empty'
  if (path.length > NAME_MAX) return `repository name is ${path.length} characters long; the limit is ${NAME_MAX}`
  if (path.startsWith('/')) return "repository starts with '/'"
  if (path.endsWith('/')) return "repository ends with '/'"
  for (const component of path.split('/')) {
    const problem = componentProblem(component)
    if (problem) return problem
  }
  return undefined
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

/** Why a tag is invalid (said of the tag: "must start with …"), or undefined when it is fine. */
export function tagProblem(tag: string): string | undefined {
  if (tag === '') return 'is empty'
  if (tag.length > TAG_MAX) return `is ${tag.length} characters long; the limit is ${TAG_MAX}`
  if (TAG.test(tag)) return undefined
  if (/^[.-]/.test(tag)) return "must start with a letter, digit or '_'"
  return "may only contain letters, digits, '.', '_' and '-'"
}

export interface DigestProblem {
  /** UNSUPPORTED_DIGEST: an algorithm ferry cannot verify; INVALID_DIGEST: not a digest at all. */
  code: 'INVALID_DIGEST' | 'UNSUPPORTED_DIGEST'
  reason: string
}

/** Why a digest is refused, or undefined for `sha256:` + 64 or `sha512:` + 128 lowercase hex digits. */
export function digestProblem(digest: string): DigestProblem | undefined {
  const colon = digest.indexOf(':')
  if (colon < 0) return {code: 'INVALID_DIGEST', reason: "a digest must look like 'sha256:' followed by 64 hex digits"}
  const algorithm = digest.slice(0, colon)
  const hex = digest.slice(colon + 1)
  const want = DIGEST_HEX[algorithm]
  if (want === undefined) {
    // Only a name the spec's algorithm grammar allows is worth naming as an algorithm.
    return /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/.test(algorithm)
      ? {code: 'UNSUPPORTED_DIGEST', reason: `digest algorithm ${quote(algorithm)} is not supported (ferry verifies sha256 and sha512)`}
      : {code: 'INVALID_DIGEST', reason: "a digest must look like 'sha256:' followed by 64 hex digits"}
  }
  if (!/^[0-9a-fA-F]*$/.test(hex)) return {code: 'INVALID_DIGEST', reason: `${algorithm} digest has characters that are not hex digits`}
  if (/[A-F]/.test(hex)) return {code: 'INVALID_DIGEST', reason: `${algorithm} digest must be lowercase hex`}
  if (hex.length !== want) return {code: 'INVALID_DIGEST', reason: `${algorithm} digest has ${hex.length} hex digits; it needs ${want}`}
  return undefined
}

/**
 * A repository path from outside; anything else throws INVALID_NAME with one line that starts with
 * `from` (who said it: `registry 127.0.0.1:5000, catalog`) and ends with `outcome` (`skipped`).
 */
export function checkRepositoryName(name: unknown, from: string, outcome?: string): string {
  if (typeof name !== 'string') throw refused('INVALID_NAME', from, name, 'repository name', 'it is not a string', outcome)
  const problem = repositoryPathProblem(name)
  if (problem) throw refused('INVALID_NAME', from, name, 'repository name', problem, outcome)
  return name
}

/** A tag from outside; anything else throws INVALID_NAME (see checkRepositoryName). */
export function checkTag(tag: unknown, from: string, outcome?: string): string {
  if (typeof tag !== 'string') throw refused('INVALID_NAME', from, tag, 'tag', 'it is not a string', outcome)
  const problem = tagProblem(tag)
  if (problem) throw refused('INVALID_NAME', from, tag, 'tag', `a tag ${problem}`, outcome)
  return tag
}

/** A digest from outside; anything else throws INVALID_DIGEST or UNSUPPORTED_DIGEST (see checkRepositoryName). */
export function checkDigest(digest: unknown, from: string, outcome?: string): string {
  if (typeof digest !== 'string') throw refused('INVALID_DIGEST', from, digest, 'digest', 'it is not a string', outcome)
  const problem = digestProblem(digest)
  if (problem) throw refused(problem.code, from, digest, 'digest', problem.reason, outcome)
  return digest
}

/** A name refused by one of the checks; its message shows the name escaped. */
export class RefusedName extends FerryError {
  /** The name as it came, for deciding whether it concerns a caller (a namespace filter); never for output. */
  declare readonly value: unknown

  constructor(code: string, message: string, value: unknown) {
    super(code, message)
    this.name = 'RefusedName'
    // Not enumerable: whatever prints the error's fields must not print the raw name.
    Object.defineProperty(this, 'value', {value, enumerable: false})
  }
}

/** The same checks as a value: the refusal, or undefined when the name is fine. */
export function nameRefusal(check: () => unknown): RefusedName | undefined {
  try {
    check()
    return undefined
  } catch (error) {
    if (error instanceof RefusedName) return error
    throw error
  }
}

/** Whether a refused name, as it was listed, starts under `prefix` ('' = the whole registry); a non-string one concerns everyone. */
export function underPrefix(refused: RefusedName, prefix: string): boolean {
  const value = refused.value
  return prefix === '' || typeof value !== 'string' || value === prefix || value.startsWith(`${prefix}/`)
}

function refused(code: string, from: string, value: unknown, kind: string, reason: string, outcome?: string): RefusedName {
  const shown = typeof value === 'string' ? quote(value) : quote(JSON.stringify(value) ?? String(value))
  return new RefusedName(code, `${from}: ${shown} is not a valid ${kind} (${reason})${outcome ? `; ${outcome}` : ''}`, value)
}
