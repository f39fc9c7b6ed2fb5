/** What --prune did at the destination: the report's part of it. Types only. */

/** A destination tag the source no longer has, deleted (in a dry run: that would be). */
export interface PrunedTag {
  /** `registry/repository` at the destination. */
  repository: string
  tag: string
  /** What the tag pointed to, so it can be restored from the source or a backup. */
  digest: string
}

/** A destination tag the source no longer has that prune left in place, and why. */
export interface KeptTag extends PrunedTag {
  reason: string
}

export interface PruneReport {
  dryRun: boolean
  pruned: PrunedTag[]
  kept: KeptTag[]
  /** Why prune deleted nothing, or stopped: a failed or empty source listing, --max-deletes, a failed delete. The run fails. */
  stopped?: string
}
