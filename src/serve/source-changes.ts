import type {JobResult} from '../report/summary.js'
import type {SyncedTag} from './state-file.js'

/** What changed at the source since the last run, by source image (`registry/repository:tag`). */
export interface SourceChanges {
  new: string[]
  updated: string[]
  /** Gone from the source; the destination keeps them (ferry never deletes there on its own). */
  deletedAtSource: string[]
}

/**
 * Compares one run's results with the tags the state file remembers. A tag counts as deleted only
 * when the run listed every rule completely: an interrupted run or a rule whose listing failed
 * says nothing about what the source no longer has. Pure.
 */
export function sourceChanges(previous: Readonly<Record<string, SyncedTag>>, results: readonly JobResult[], listedCompletely: boolean): SourceChanges {
  const changes: SourceChanges = {new: [], updated: [], deletedAtSource: []}
  const seen = new Set<string>()
  for (const result of results) {
    seen.add(result.source)
    if (!result.digest) continue
    const before = previous[result.source]
    if (!before) changes.new.push(result.source)
    else if (before.digest !== result.digest) changes.updated.push(result.source)
  }
  if (listedCompletely) for (const source of Object.keys(previous)) if (!seen.has(source)) changes.deletedAtSource.push(source)
  for (const list of Object.values(changes)) list.sort()
  return changes
}

/**
 * The remembered tags after a run: each result with a digest (copied, or already there) is synced
 * now; a failed one keeps its last good entry; tags deleted at the source are forgotten once
 * reported. Pure.
 */
export function syncedAfter(
  previous: Readonly<Record<string, SyncedTag>>,
  results: readonly JobResult[],
  changes: Pick<SourceChanges, 'deletedAtSource'>,
  now: Date,
): Record<string, SyncedTag> {
  const next: Record<string, SyncedTag> = {...previous}
  for (const source of changes.deletedAtSource) delete next[source]
  for (const result of results) {
    if (result.status !== 'failed' && result.status !== 'interrupted' && result.digest)
      next[result.source] = {digest: result.digest, syncedAt: now.toISOString()}
  }
  return next
}

/** One log line, or none when nothing changed. Pure. */
export function describeChanges(changes: SourceChanges): string | undefined {
  const parts: string[] = []
  const list = (items: string[]) => (items.length <= 5 ? items.join(', ') : `${items.slice(0, 5).join(', ')} and ${items.length - 5} more`)
  if (changes.new.length) parts.push(`${changes.new.length} new (${list(changes.new)})`)
  if (changes.updated.length) parts.push(`${changes.updated.length} updated (${list(changes.updated)})`)
  if (changes.deletedAtSource.length)
    parts.push(`${changes.deletedAtSource.length} deleted at the source, kept at the destination (${list(changes.deletedAtSource)})`)
  return parts.length ? `changes at the source since the last run: ${parts.join('; ')}` : undefined
}
