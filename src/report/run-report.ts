import {Redactor} from './logger.js'
import type {GenerateFailure, JobResult, TransferReport, TransferSummary} from './summary.js'

/** One job in a --report file. Every key is always present (null when unknown) for easy querying. */
export interface ReportJob {
  source: string
  destination: string
  rule: string
  status: JobResult['status']
  skipReason: string | null
  /** Digest of the source manifest, when it was read. */
  sourceDigest: string | null
  /** Digest the destination reference points at after the run (equal to the source's unless a platform subset was pushed). */
  destinationDigest: string | null
  bytes: number
  blobs: JobResult['blobs']
  /** From the first attempt's start to the last attempt's end. */
  durationMs: number
  startedAt: string | null
  finishedAt: string | null
  attempts: number
  retries: number
  error: {code: string; message: string} | null
}

/** The document behind both --report formats. */
export interface RunReport {
  /** Version of this document's shape. */
  ferryReport: 1
  startedAt: string
  finishedAt: string
  summary: TransferSummary
  jobs: ReportJob[]
  generateFailures: GenerateFailure[]
  omittedTags: {repository: string; count: number}[]
  /** A stop (or a failed listing) left work undone; `unfinishedRules` says which. */
  interrupted: boolean
  /** Rules not listed to the end, or with jobs that never ran. */
  unfinishedRules: string[]
  /** False: the rules themselves (a provider's enumeration) were cut short; rules after these were never read. */
  allRulesRead: boolean
}

/**
 * The report of a run. Pure. Messages pass a redactor once more: the engine has already removed
 * credentials, and a report file outlives the terminal, so tokens that look like one go too.
 */
export function buildRunReport(report: TransferReport, fallback: {startedAt: string; finishedAt: string}, redactor = new Redactor()): RunReport {
  return {
    ferryReport: 1,
    startedAt: report.startedAt ?? fallback.startedAt,
    finishedAt: report.finishedAt ?? fallback.finishedAt,
    summary: report.summary,
    jobs: report.results.map((result) => reportJob(result, redactor)),
    generateFailures: report.generateFailures.map((failure) => ({...failure, message: redactor.redact(failure.message)})),
    omittedTags: report.omittedTags ?? [],
    interrupted: report.interrupted ?? false,
    unfinishedRules: report.unfinishedRules ?? [],
    allRulesRead: report.allRulesRead ?? true,
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
    sourceDigest: result.digest || null,
    destinationDigest: result.destinationDigest ?? null,
    bytes: result.bytes,
    blobs: result.blobs,
    durationMs: spanMs ?? result.durationMs,
    startedAt: result.startedAt ?? null,
    finishedAt: result.finishedAt ?? null,
    attempts: result.attempts,
    retries: Math.max(0, result.attempts - 1),
    error: result.error ? {code: result.error.code, message: redactor.redact(result.error.message)} : null,
  }
}
