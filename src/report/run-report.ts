import {registryOf} from './reference-parts.js'
import type {KeptTag, PrunedTag} from './prune-report.js'
import {Redactor} from './redactor.js'
import type {GenerateFailure, JobResult, PullQuota, TransferReport, TransferSummary} from './summary.js'

/** The shape's version: bumped when a key is renamed or removed (new keys keep it). 1 was `ferryReport: 1` of --report files. */
export const SCHEMA_VERSION = 2

type BlobCounts = JobResult['blobs']

/** One job in the document. Every key is always present (null when unknown) for easy querying. */
export interface ReportJob {
  source: string
  destination: string
  rule: string
  status: JobResult['status']
  skipReason: NonNullable<JobResult['reason']> | null
  /** A reduced index, a platform left out, what a dry run would do. */
  note: string | null
  /** `ferry verify`: what the destination lacks or holds differently. */
  missing: string[] | null
  /** Digest of the source manifest, when it was read. */
  sourceDigest: string | null
  /** --frozen: the locked digest was copied while the source tag points elsewhere (`source` null: the tag is gone). */
  drift: {locked: string; source: string | null} | null
  /** Digest the destination reference points at after the run (equal to the source's unless a platform subset was pushed). */
  destinationDigest: string | null
  /** Blob bytes uploaded. */
  bytes: number
  blobs: BlobCounts
  /** The blobs' sizes by how they came to be there: uploaded, mounted from another repository, already present. */
  blobBytes: BlobCounts
  /** The image's referrers: pushed by this job, already at the destination, what a dry run would copy; null with --referrers=false. */
  referrers: {copied: number; present: number; planned: string[]} | null
  /** From the first attempt's start to the last attempt's end. */
  durationMs: number
  startedAt: string | null
  finishedAt: string | null
  attempts: number
  retries: number
  error: {code: string; message: string} | null
}

export interface ReportPullQuota {
  registry: string
  limit: number | null
  remaining: number
  windowSeconds: number | null
  stoppedAt: string | null
  resetsBy: string | null
}

/** The run's counts, every key present whatever the mode. */
export interface ReportSummary {
  jobs: number
  copied: number
  skipped: number
  failed: number
  /** Jobs a dry run would copy (0 otherwise). */
  planned: number
  /** Destinations `ferry verify` found complete (0 otherwise). */
  verified: number
  generateFailed: number
  dryRun: boolean
  interrupted: boolean
  /** Jobs a stop cut short while they ran (status `interrupted`). */
  interruptedJobs: number
  /** Blob bytes uploaded. */
  bytes: number
  blobBytes: BlobCounts
  /** Referrers pushed by the run's jobs, and found already at their destinations. */
  referrers: {copied: number; present: number}
  requests: number
  durationMs: number
  pullQuotas: ReportPullQuota[]
}

export type ReportMode = 'copy' | 'dry run' | 'verify'

/** The one document of a run: printed by --json and written by --report FILE.json (and drawn by FILE.html). */
export interface RunReport {
  schemaVersion: typeof SCHEMA_VERSION
  ferryVersion: string | null
  /** The command line, credentials blanked. */
  command: string | null
  mode: ReportMode
  /** Every registry a job read from or wrote to, sorted. */
  registries: string[]
  startedAt: string
  finishedAt: string
  summary: ReportSummary
  jobs: ReportJob[]
  generateFailures: GenerateFailure[]
  omittedTags: {repository: string; count: number}[]
  /** A stop (or a failed listing) left work undone; `unfinishedRules` says which. */
  interrupted: boolean
  /** Rules not listed to the end, or with jobs that never ran. */
  unfinishedRules: string[]
  /** False: the rules themselves (a provider's enumeration) were cut short; rules after these were never read. */
  allRulesRead: boolean
  /** --prune: destination tags deleted (a dry run: that would be), each with its digest; [] without --prune. */
  pruned: PrunedTag[]
  /** --prune: tags gone from the source that were kept (a shared digest, a signature of a kept image, a registry refusing deletes). */
  pruneKept: KeptTag[]
  /** --prune deleted nothing more, and why (a failed source listing, --max-deletes); null otherwise. */
  pruneStopped: string | null
}

/** What the document says besides the engine's report: when, and who ran what. */
export interface RunContext {
  startedAt: string
  finishedAt: string
  ferryVersion?: string
  /** Already redacted (`redactCommandLine`). */
  command?: string
}

/**
 * The document of a run. Pure. Messages pass a redactor once more: the engine has already removed
 * credentials, and a report outlives the terminal, so tokens that look like one go too.
 */
export function buildRunReport(report: TransferReport, context: RunContext, redactor = new Redactor()): RunReport {
  const jobs = report.results.map((result) => reportJob(result, redactor))
  return {
    schemaVersion: SCHEMA_VERSION,
    ferryVersion: context.ferryVersion ?? null,
    command: context.command ?? null,
    mode: report.summary.verify ? 'verify' : report.summary.dryRun ? 'dry run' : 'copy',
    registries: [...new Set(jobs.flatMap((job) => [registryOf(job.source), registryOf(job.destination)]))].sort(),
    startedAt: report.startedAt ?? context.startedAt,
    finishedAt: report.finishedAt ?? context.finishedAt,
    summary: reportSummary(report.summary, jobs),
    jobs,
    generateFailures: report.generateFailures.map((failure) => ({...failure, message: redactor.redact(failure.message)})),
    omittedTags: report.omittedTags ?? [],
    interrupted: report.interrupted ?? false,
    unfinishedRules: report.unfinishedRules ?? [],
    allRulesRead: report.allRulesRead ?? true,
    pruned: report.prune?.pruned ?? [],
    pruneKept: report.prune?.kept ?? [],
    pruneStopped: report.prune?.stopped ?? null,
  }
}

export function reportJob(result: JobResult, redactor = new Redactor()): ReportJob {
  const spanMs = result.startedAt && result.finishedAt ? Date.parse(result.finishedAt) - Date.parse(result.startedAt) : undefined
  return {
    source: result.source,
    destination: result.destination,
    rule: result.rule,
    status: result.status,
    skipReason: result.reason ?? null,
    note: result.note ?? null,
    missing: result.missing ?? null,
    sourceDigest: result.digest || null,
    drift: result.drift ? {locked: result.drift.locked, source: result.drift.source ?? null} : null,
    destinationDigest: result.destinationDigest ?? null,
    bytes: result.bytes,
    blobs: {...result.blobs},
    blobBytes: result.blobBytes ? {...result.blobBytes} : {uploaded: result.bytes, mounted: 0, existing: 0},
    referrers: result.referrers ? {copied: result.referrers.copied, present: result.referrers.present, planned: [...(result.referrers.planned ?? [])]} : null,
    durationMs: spanMs ?? result.durationMs,
    startedAt: result.startedAt ?? null,
    finishedAt: result.finishedAt ?? null,
    attempts: result.attempts,
    retries: Math.max(0, result.attempts - 1),
    error: result.error ? {code: result.error.code, message: redactor.redact(result.error.message)} : null,
  }
}

function reportSummary(summary: TransferSummary, jobs: readonly ReportJob[]): ReportSummary {
  const sum = (kind: keyof BlobCounts) => jobs.reduce((total, job) => total + job.blobBytes[kind], 0)
  return {
    jobs: summary.jobs,
    copied: summary.copied,
    skipped: summary.skipped,
    failed: summary.failed,
    planned: summary.planned ?? 0,
    verified: summary.verified ?? 0,
    generateFailed: summary.generateFailed,
    dryRun: summary.dryRun ?? false,
    interrupted: summary.interrupted ?? false,
    interruptedJobs: summary.interruptedJobs ?? 0,
    bytes: summary.bytes,
    blobBytes: {uploaded: sum('uploaded'), mounted: sum('mounted'), existing: sum('existing')},
    referrers: {
      copied: jobs.reduce((total, job) => total + (job.referrers?.copied ?? 0), 0),
      present: jobs.reduce((total, job) => total + (job.referrers?.present ?? 0), 0),
    },
    requests: summary.requests,
    durationMs: summary.durationMs,
    pullQuotas: (summary.pullQuotas ?? []).map(reportPullQuota),
  }
}

function reportPullQuota(quota: PullQuota): ReportPullQuota {
  return {
    registry: quota.registry,
    limit: quota.limit ?? null,
    remaining: quota.remaining,
    windowSeconds: quota.windowSeconds ?? null,
    stoppedAt: quota.stoppedAt ?? null,
    resetsBy: quota.resetsBy ?? null,
  }
}
