import type {Platform} from '../select/platforms.js'

/** One image to copy: a source tag or digest to a destination tag or digest. */
export interface TransferJob {
  source: ImageLocation
  destination: ImageLocation
  /**
   * Further destinations of the same source image (one source, a list of targets): the source
   * is read once for all of them, and each gets its own result.
   */
  extraDestinations?: ImageLocation[]
  /** The rule that produced the job, as the user wrote it, for reports. */
  rule: string
  /** Only these children of a multi-platform index (the rule's own `platform`); the run's --platform otherwise. */
  platforms?: Platform[]
}

/** Where an image is: registry, repository, and a tag or a digest (at least one). */
export interface ImageLocation {
  registry: string
  repository: string
  tag?: string
  digest?: string
}

export function describeLocation(location: ImageLocation): string {
  const tag = location.tag ? `:${location.tag}` : ''
  const digest = location.digest ? `@${location.digest}` : ''
  return `${location.registry}/${location.repository}${tag}${digest}`
}

export function describeJob(job: TransferJob): string {
  const destinations = [job.destination, ...(job.extraDestinations ?? [])].map(describeLocation).join(', ')
  return `${describeLocation(job.source)} → ${destinations}`
}

/** The job's destination, then those served from the same read of the source. */
export function destinationsOf(job: TransferJob): ImageLocation[] {
  return [job.destination, ...(job.extraDestinations ?? [])]
}
