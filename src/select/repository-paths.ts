/**
 * Destination repository paths for registries without multi-level paths (--flatten), and rules
 * that map a whole source namespace: `registry.a/team/**: registry.b/mirror`.
 */
import {globToRegExp} from './filters.js'

/** `team0/sub/app0` → `team0-sub-app0`. Pure. */
export function joinPath(path: string, separator: string): string {
  return path.split('/').join(separator)
}

/** An explicit destination keeps its first component as the namespace: `a/b/c` → `a/b-c`. Pure. */
export function flattenDestination(path: string, separator: string): string {
  const [namespace, ...rest] = path.split('/')
  return rest.length <= 1 ? path : `${namespace}/${rest.join(separator)}`
}

/** A rule key ending in `/*` (repositories directly under the prefix) or `/**` (at any depth). */
export interface RepositoryPattern {
  /** The written key without the `/*` or `/**`. */
  prefixText: string
  depth: '*' | '**'
}

/** Splits a rule key that names repositories by pattern; undefined for an ordinary key. Pure. */
export function splitPattern(key: string): RepositoryPattern | undefined {
  const match = /^(.+?)\/(\*\*?)$/.exec(key.trim())
  if (!match) return undefined
  return {prefixText: match[1], depth: match[2] as '*' | '**'}
}

/** Whether a repository of the catalog falls under `prefix/*` or `prefix/**` (prefix '' = the whole registry). Pure. */
export function matchesPattern(repository: string, prefix: string, depth: '*' | '**'): boolean {
  return globToRegExp(prefix === '' ? depth : `${prefix}/${depth}`).test(repository)
}

/** The destination of one matched repository: the destination prefix plus the path below the source prefix. Pure. */
export function mapUnderPrefix(repository: string, sourcePrefix: string, destinationPrefix: string): string {
  const rest = sourcePrefix === '' ? repository : repository.slice(sourcePrefix.length + 1)
  return `${destinationPrefix}/${rest}`
}
