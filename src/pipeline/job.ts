import {formatReference, type ImageReference} from '../reference.js'
import type {Platform} from '../select/platforms.js'

/** One image to copy: a source tag or digest to a destination tag or digest. */
export interface TransferJob {
  source: ImageReference
  destination: ImageReference
  /**
   * Further destinations of the same source image (one source, a list of targets): the source
   * is read once for all of them, and each gets its own result.
   */
  extraDestinations?: ImageReference[]
  /** The rule that produced the job, as the user wrote it, for reports. */
  rule: string
  /** Only these children of a multi-platform index (the rule's own `platform`); the run's --platform otherwise. */
  platforms?: Platform[]
  /** --frozen: the referrers the lock names (digests, or `tag@digest`); only these travel, and each must. */
  lockedReferrers?: readonly string[]
}

export function describeJob(job: TransferJob): string {
  const destinations = [job.destination, ...(job.extraDestinations ?? [])].map(formatReference).join(', ')
  return `${formatReference(job.source)} → ${destinations}`
}

/** The job's destination, then those served from the same read of the source. */
export function destinationsOf(job: TransferJob): ImageReference[] {
  return [job.destination, ...(job.extraDestinations ?? [])]
}
