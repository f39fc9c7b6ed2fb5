/** A job's outcomes as the report's results, one per destination. Pure. */
import type {ConfigError} from '../errors.js'
import {type TransferJob} from '../pipeline/job.js'
import type {GenerateFailure, JobResult} from '../report/summary.js'
import type {CopyOutcome} from '../transfer/copy-image.js'
import type {VerifyOutcome} from '../transfer/verify-image.js'
import {formatReference, type ImageReference} from '../reference.js'

/** When the job's first attempt began and this one ended. */
export interface Span {
  startedAt: string
  finishedAt: string
}

/** A failure already said in words fit to print (redacted). */
export type PrintableError = NonNullable<JobResult['error']>

export function identify(job: TransferJob, destination: ImageReference): Pick<JobResult, 'source' | 'destination' | 'rule'> {
  return {source: formatReference(job.source), destination: formatReference(destination), rule: job.rule}
}

export function references(job: TransferJob, destination: ImageReference): {source: string; destination: string} {
  return {source: formatReference(job.source), destination: formatReference(destination)}
}

export function failedResult(job: TransferJob, destination: ImageReference, error: PrintableError, attempts: number, span: Span): JobResult {
  return {
    ...identify(job, destination),
    status: 'failed',
    bytes: 0,
    blobs: {uploaded: 0, mounted: 0, existing: 0},
    attempts,
    // The time spent on it all the same: a failure that took minutes is worth seeing.
    durationMs: Math.max(0, Date.parse(span.finishedAt) - Date.parse(span.startedAt)),
    error,
    ...span,
  }
}

/**
 * A job a stop cut short: `interrupted`, not failed; whatever it wrote is blobs and child manifests
 * only (its manifest goes last), which the next run finds and completes. Pure.
 */
export function interruptedResult(result: JobResult): JobResult {
  if (result.status !== 'failed') return result
  return {...result, status: 'interrupted', error: {code: 'ABORTED', message: 'interrupted by a stop; run again to finish it'}}
}

/** A copy's (or dry run's) outcome at one destination; a failed one is shaped by `failedResult`. */
export function copiedResult(
  job: TransferJob,
  destination: ImageReference,
  outcome: CopyOutcome,
  attempt: {attempts: number; durationMs: number; span: Span},
): JobResult {
  return {
    ...identify(job, destination),
    status: outcome.status,
    ...(outcome.reason ? {reason: outcome.reason} : {}),
    digest: outcome.digest,
    ...(outcome.destinationDigest ? {destinationDigest: outcome.destinationDigest} : {}),
    ...(outcome.note ? {note: outcome.note} : {}),
    bytes: outcome.bytes,
    blobs: outcome.blobs,
    blobBytes: outcome.blobBytes,
    ...(outcome.referrers ? {referrers: referrerCounts(outcome.referrers)} : {}),
    attempts: attempt.attempts,
    durationMs: attempt.durationMs,
    ...attempt.span,
  }
}

function referrerCounts(tally: NonNullable<CopyOutcome['referrers']>): NonNullable<JobResult['referrers']> {
  return {
    copied: tally.copied,
    present: tally.present,
    ...(tally.planned.length > 0 ? {planned: [...tally.planned]} : {}),
    ...(tally.held.length > 0 ? {digests: [...tally.held]} : {}),
    ...(tally.unlocked && tally.unlocked.length > 0 ? {unlocked: [...tally.unlocked]} : {}),
  }
}

/** `ferry verify`'s check of one destination; `redact` cleans what a registry may have echoed. */
export function verifiedResult(
  job: TransferJob,
  destination: ImageReference,
  checked: VerifyOutcome,
  attempt: {attempts: number; durationMs: number; span: Span},
  redact: (text: string) => string,
): JobResult {
  return {
    ...identify(job, destination),
    status: checked.leftOut ? 'skipped' : checked.missing.length > 0 ? 'failed' : 'verified',
    ...(checked.leftOut ? {reason: 'platform not selected' as const, note: checked.leftOut} : {}),
    digest: checked.digest,
    ...(checked.destinationDigest ? {destinationDigest: checked.destinationDigest} : {}),
    ...(checked.missing.length > 0 ? {missing: checked.missing, error: {code: 'INCOMPLETE', message: redact(checked.missing.join('; '))}} : {}),
    bytes: 0,
    blobs: {uploaded: 0, mounted: 0, existing: 0},
    attempts: attempt.attempts,
    durationMs: attempt.durationMs,
    ...attempt.span,
  }
}

/** Rules that failed to parse, as "generate failed" entries. */
export function ruleFailures(errors: readonly ConfigError[], redact: (text: string) => string): GenerateFailure[] {
  return errors.map((error) => ({
    rule: error.file ? `${error.file}${error.line ? `:${error.line}` : ''}` : 'rule',
    code: error.code,
    message: redact(error.message),
  }))
}

/** The same job bound for some of its destinations only: a new job, the given one untouched. */
export function narrowedJob(job: TransferJob, destinations: readonly ImageReference[]): TransferJob {
  const [first, ...rest] = destinations
  if (!first) throw new RangeError('a job needs at least one destination')
  const {extraDestinations: _extra, ...base} = job
  return rest.length > 0 ? {...base, destination: first, extraDestinations: rest} : {...base, destination: first}
}
