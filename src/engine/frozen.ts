/**
 * --frozen: a job copies its source tag at the digest the lock names, by digest, to the same
 * destination tags, whatever the tag points at today. The tag is still asked (one HEAD), so a
 * tag that moved or went is reported as drift rather than copied over silently.
 */
import {describeError, FerryError} from '../errors.js'
import {lockKey, type Lock, type LockEntry} from '../lock.js'
import type {TransferJob} from '../pipeline/job.js'
import {formatReference} from '../reference.js'
import type {Logger} from '../report/logger.js'
import type {JobResult} from '../report/summary.js'
import type {EndpointResolver} from '../transfer/endpoints.js'

export interface FrozenCopy {
  lock: Lock
  endpoints: EndpointResolver
  logger: Logger
  signal?: AbortSignal
  /** The session's copy of a job, every attempt of it. */
  copy(job: TransferJob): Promise<JobResult[]>
  /** The job failed before any attempt: one result per destination. */
  fail(job: TransferJob, error: FerryError): JobResult[]
}

export async function copyFrozen(job: TransferJob, context: FrozenCopy): Promise<JobResult[]> {
  const tag = job.source.tag
  const key = lockKey(formatReference(job.source))
  const entry = context.lock.images[key]
  // A rule that names a digest is as fixed as a lock can make it; its referrers, as locked if they are.
  if (!tag || job.source.digest) return withUnlocked(await context.copy(entry ? lockedJob(job, entry) : job), key, context)
  if (!entry) {
    // Copying it would put bytes at the destination that no lock names: the lock is renewed instead.
    return context.fail(
      job,
      new FerryError('NOT_LOCKED', `${key} is not in the lock file; --frozen copies only locked digests (lock it with a run without --frozen)`),
    )
  }
  const source = context.endpoints.source(job.source)
  let current: string | undefined
  let checked = true
  try {
    current = (await source.headManifest(tag, context.signal))?.digest
  } catch (error) {
    // The copy reads the locked digest, not the tag: a tag that cannot be asked does not stop it.
    checked = false
    context.logger.warn(`warning: ${key}: not checked for drift (${describeError(error)})`)
  }
  const moved = checked && current !== entry.digest
  if (moved) {
    const present = await source.headManifest(entry.digest, context.signal).catch(() => ({digest: entry.digest}))
    if (!present) {
      return context.fail(
        job,
        new FerryError(
          'LOCKED_DIGEST_GONE',
          `${key}: the locked digest ${entry.digest} is gone from the source (the tag ${current ? `is now ${current}` : 'is gone too'}); restore it there, or lock again with a run without --frozen`,
        ),
      )
    }
    context.logger.warn(`drift: ${key} ${current ? `is now ${current}` : 'is gone'} at the source; copying the locked ${entry.digest}`)
  }
  const results = withUnlocked(await context.copy(lockedJob({...job, source: {...job.source, digest: entry.digest}}, entry)), key, context)
  if (!moved) return results
  return results.map((result) => ({...result, drift: {locked: entry.digest, ...(current ? {source: current} : {})}}))
}

/** The job with the referrers the lock names: those travel, no other (none when it names none). */
function lockedJob(job: TransferJob, entry: LockEntry): TransferJob {
  return {...job, lockedReferrers: entry.referrers ?? []}
}

/** Referrers the source has and the lock does not name: left behind, and said, as drift is. */
function withUnlocked(results: JobResult[], key: string, context: FrozenCopy): JobResult[] {
  const unlocked = [...new Set(results.flatMap((result) => result.referrers?.unlocked ?? []))]
  if (unlocked.length > 0)
    context.logger.warn(`drift: ${key} has ${unlocked.length} referrers at the source the lock does not name; not copied: ${unlocked.join(', ')}`)
  return results
}
