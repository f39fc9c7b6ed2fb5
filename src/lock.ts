/**
 * The lock: which digest every source reference resolved to in the last good run, and which
 * destination references hold it. Written after a run (--lock-file), read back to copy exactly
 * those digests (--frozen) or to see what moved at the sources since (`ferry diff`). Pure: the
 * commands and the api layer read and write the file (lock-files.ts), config/lock-file.ts checks
 * what a file says.
 */
import yaml from 'js-yaml'

import {digestProblem, tagProblem} from './names.js'
import {formatReference, parseReference} from './reference.js'

/** Bumped when a key is renamed or its meaning changes; a reader refuses a version it does not know. */
export const LOCK_VERSION = 1

/** One source reference (`registry/repository:tag`, or `@digest` when the rule named one). */
export interface LockEntry {
  /** The source manifest's digest. */
  digest: string
  /** Every destination reference written or found equal → the digest it holds (a --platform subset's own). */
  destinations: Record<string, string>
  /**
   * The referrers (signatures, SBOMs, …) copied alongside or found there, recursively: each a
   * digest, or `tag@digest` for one held by a cosign tag (`sha256-<hex>.sig`). Absent: none.
   */
  referrers?: string[]
}

export interface Lock {
  version: typeof LOCK_VERSION
  /** Keyed by source reference, sorted when written. */
  images: Record<string, LockEntry>
}

/** What the lock reads of a job's result (the engine's JobResult has these fields). */
export interface LockedResult {
  source: string
  destination: string
  status: string
  reason?: string
  digest?: string
  destinationDigest?: string
  /** The referrers held at this destination after the job (digests, or `tag@digest`). */
  referrers?: {digests?: readonly string[]}
}

export function emptyLock(): Lock {
  return {version: LOCK_VERSION, images: {}}
}

/**
 * The key of a source reference: its tag when it has one (a --frozen job's source carries the
 * locked digest beside its tag, and must find its own entry), its digest otherwise.
 */
export function lockKey(source: string): string {
  const reference = parseReference(source)
  if (reference.tag) return formatReference({...reference, digest: undefined})
  return formatReference(reference)
}

/** A destination holds the source's image after the job: copied, or the same digest was there. */
function holds(result: LockedResult): boolean {
  if (result.status === 'copied') return true
  return result.status === 'skipped' && result.reason === 'same digest'
}

/**
 * The lock after a run. A source whose every destination failed keeps its previous entry (the
 * last good digest); a destination that failed keeps the digest it had in it. Sources the run did
 * not see are kept when `keepUnseen` (a run cut short, a listing that failed, a layout that keeps
 * older saves) and dropped otherwise, so a complete run's lock names what the rules name today.
 * Pure.
 */
export function buildLock(results: readonly LockedResult[], previous: Lock | undefined, options: {keepUnseen: boolean}): Lock {
  const before = previous?.images ?? {}
  const images: Record<string, LockEntry> = options.keepUnseen ? structuredClone(before) : {}
  const seen = new Map<string, LockedResult[]>()
  for (const result of results) {
    const key = lockKey(result.source)
    seen.set(key, [...(seen.get(key) ?? []), result])
  }
  for (const [key, group] of seen) {
    const old = before[key]
    const good = group.filter((result) => holds(result) && result.digest)
    if (good.length === 0) {
      if (old) images[key] = structuredClone(old)
      else delete images[key]
      continue
    }
    const digest = good[0]!.digest!
    const destinations: Record<string, string> = {}
    for (const result of group) {
      if (holds(result) && result.digest === digest) destinations[result.destination] = result.destinationDigest ?? digest
      else if (old?.destinations[result.destination]) destinations[result.destination] = old.destinations[result.destination]!
    }
    const referrers = [...new Set(good.flatMap((result) => referrerDigests(result.referrers)))]
    images[key] = {digest, destinations, ...(referrers.length > 0 ? {referrers} : {})}
  }
  return {version: LOCK_VERSION, images}
}

function referrerDigests(referrers: LockedResult['referrers']): string[] {
  return (referrers?.digests ?? []).filter((item) => referrerItemProblem(item) === undefined)
}

/** What is wrong with a lock's referrer item (a digest, or `tag@digest`); undefined when nothing. Pure. */
export function referrerItemProblem(item: string): string | undefined {
  const at = item.lastIndexOf('@')
  const digest = at < 0 ? item : item.slice(at + 1)
  const problem = digestProblem(digest)
  if (problem) return problem.reason
  const tag = at < 0 ? undefined : tagProblem(item.slice(0, at))
  return tag ? `its tag ${tag}` : undefined
}

/**
 * Locked source references no job of a --frozen run copied (a tag deleted at the source is no
 * longer listed; a filter or another rule file leaves it out), sorted. Pure.
 */
export function unusedLockEntries(lock: Lock, results: readonly Pick<LockedResult, 'source'>[]): string[] {
  const used = new Set(results.map((result) => lockKey(result.source)))
  return Object.keys(lock.images)
    .filter((key) => !used.has(key))
    .sort(byCodePoint)
}

/** Keys in code-point order, whatever the locale: the same lock is the same bytes everywhere. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function sortedRecord<T>(record: Record<string, T>, value: (item: T) => unknown): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(record)
      .sort(byCodePoint)
      .map((key) => [key, value(record[key]!)]),
  )
}

/** The lock as text: keys sorted, one value a line, so that two runs' locks diff line by line. Pure. */
export function serializeLock(lock: Lock, format: 'yaml' | 'json'): string {
  const document = {
    version: lock.version,
    images: sortedRecord(lock.images, (entry) => ({
      digest: entry.digest,
      destinations: sortedRecord(entry.destinations, (digest) => digest),
      ...(entry.referrers && entry.referrers.length > 0 ? {referrers: [...entry.referrers].sort(byCodePoint)} : {}),
    })),
  }
  if (format === 'json') return `${JSON.stringify(document, null, 2)}\n`
  const header = '# ferry lock file: every source reference → its digest → the destination references holding it.\n'
  return header + yaml.dump(document, {lineWidth: -1, noRefs: true, sortKeys: false, quotingType: '"'})
}

/** JSON when the file name says so, YAML otherwise. */
export function lockFormat(file: string): 'yaml' | 'json' {
  return /\.json$/i.test(file) ? 'json' : 'yaml'
}

/** How a source reference stands against the lock. */
export type LockChange =
  | {kind: 'moved'; source: string; locked: string; current: string}
  | {kind: 'gone'; source: string; locked: string}
  | {kind: 'new'; source: string; current: string}
  /** The image is at its locked digest; its referrers are not the locked ones (a signature added or removed). */
  | {kind: 'referrers'; source: string; added: string[]; removed: string[]}

/**
 * What moved at the sources since the lock: `current` holds what each source reference the rules
 * name resolves to now (undefined: the source no longer has it), `referrers` the referrers of
 * those still at their locked digest (where they were asked). Locked references the rules did not
 * name are gone only when `complete` (every rule was listed). Sorted by source. Pure.
 */
export function lockChanges(
  lock: Lock,
  current: ReadonlyMap<string, string | undefined>,
  options: {complete: boolean; referrers?: ReadonlyMap<string, readonly string[]>},
): LockChange[] {
  const changes: LockChange[] = []
  for (const [source, digest] of current) {
    const entry = lock.images[source]
    if (!entry) {
      if (digest) changes.push({kind: 'new', source, current: digest})
    } else if (!digest) changes.push({kind: 'gone', source, locked: entry.digest})
    else if (digest !== entry.digest) changes.push({kind: 'moved', source, locked: entry.digest, current: digest})
    else {
      const now = options.referrers?.get(source)
      const locked = entry.referrers ?? []
      const added = (now ?? []).filter((item) => !locked.includes(item)).sort(byCodePoint)
      const removed = now ? locked.filter((item) => !now.includes(item)).sort(byCodePoint) : []
      if (added.length + removed.length > 0) changes.push({kind: 'referrers', source, added, removed})
    }
  }
  if (options.complete) {
    for (const [source, entry] of Object.entries(lock.images)) if (!current.has(source)) changes.push({kind: 'gone', source, locked: entry.digest})
  }
  return changes.sort((a, b) => byCodePoint(a.source, b.source))
}

/** One line per change. Pure. */
export function formatLockChange(change: LockChange): string {
  if (change.kind === 'moved') return `moved ${change.source} ${change.locked} → ${change.current}`
  if (change.kind === 'gone') return `gone  ${change.source} ${change.locked}`
  if (change.kind === 'referrers')
    return `referrers ${change.source} ${[...change.added.map((item) => `+${item}`), ...change.removed.map((item) => `-${item}`)].join(' ')}`
  return `new   ${change.source} ${change.current}`
}
