import type {TransferJob} from '../pipeline/job.js'

/**
 * What a queued job holds: image references and the rule's text, nothing else. Credentials stay
 * with each worker's own security file, so nothing secret can reach Redis through a job.
 */
export type QueuedJob = TransferJob

/** Keeps only the fields a job is made of (a library caller's extra properties stay out of Redis). */
export function toQueuedJob(job: TransferJob): QueuedJob {
  return {
    source: {...job.source},
    destination: {...job.destination},
    ...(job.extraDestinations ? {extraDestinations: job.extraDestinations.map((destination) => ({...destination}))} : {}),
    rule: job.rule,
    ...(job.platforms ? {platforms: job.platforms} : {}),
  }
}
