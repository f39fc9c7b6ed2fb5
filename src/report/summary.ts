import type {PullQuota} from '../pull-quota.js'
import type {PruneReport} from './prune-report.js'

export type {PullQuota}

/** What happened to one job, as the library returns it and the report prints it. */
export interface JobResult {
  source: string
  destination: string
  rule: string
  /**
   * 'planned': a dry run would copy it; 'verified': `ferry verify` found it complete at the
   * destination; 'interrupted': a stop (SIGINT/SIGTERM) cut it short (the next run finishes it).
   */
  status: 'copied' | 'skipped' | 'failed' | 'planned' | 'verified' | 'interrupted'
  /** Why a job was skipped. */
  reason?: 'same digest' | 'tag exists' | 'platform not selected'
  /** Digest of the source manifest, when it was read. */
  digest?: string
  /** Digest the destination reference points at after the job (copied or skipped); not `digest` when --platform pushed a subset index. */
  destinationDigest?: string
  /** A reduced index, a platform left out, what a dry run would do. */
  note?: string
  /** --frozen: the source tag no longer points at the locked digest that was copied (`source` absent: the tag is gone). */
  drift?: {locked: string; source?: string}
  /** `ferry verify`: what the destination lacks or holds differently, one item each. */
  missing?: string[]
  /** Blob bytes uploaded. */
  bytes: number
  blobs: {uploaded: number; mounted: number; existing: number}
  /** The blobs' sizes by how they came to be at the destination: what a mount or a blob already there saved. */
  blobBytes?: {uploaded: number; mounted: number; existing: number}
  /**
   * The image's referrers (signatures, attestations, SBOMs) at this destination: pushed by this
   * job, already there, and what a dry run would copy. Absent with --referrers=false. `digests`:
   * each one copied or present (`tag@digest` for a cosign tag), recursively, as the lock records
   * them; `unlocked`: --frozen left these out, the lock does not name them.
   */
  referrers?: {copied: number; present: number; planned?: string[]; digests?: string[]; unlocked?: string[]}
  attempts: number
  durationMs: number
  error?: {code: string; message: string}
  /** When the job's first attempt began and its last one ended (ISO 8601). */
  startedAt?: string
  finishedAt?: string
}

export interface GenerateFailure {
  rule: string
  code: string
  message: string
}

export interface TransferSummary {
  jobs: number
  copied: number
  skipped: number
  failed: number
  generateFailed: number
  /** Jobs a dry run would copy (present only for a dry run). */
  planned?: number
  /** A dry run: nothing was written. */
  dryRun?: boolean
  /** `ferry verify`: destinations found complete (present only for a verify run). */
  verified?: number
  /** A verify run: nothing was written. */
  verify?: boolean
  /** A stop (or a failure of the listing itself) left work undone: rules not listed to the end, or jobs that never ran. */
  interrupted?: boolean
  /** Jobs a stop cut short while they ran (present only when some were). */
  interruptedJobs?: number
  /** The images' referrers: pushed, already there, a dry run's to copy (present only when some job looked for them). */
  referrers?: {copied: number; present: number; planned: number}
  bytes: number
  requests: number
  durationMs: number
  /**
   * Registries that stated a pull limit (`ratelimit-remaining`): the pulls left at their last
   * answer, and when a spent quota stopped pulls. Absent when none did.
   */
  pullQuotas?: PullQuota[]
}

/** A run's results, failures and summary, as the library returns them. */
export interface TransferReport {
  results: JobResult[]
  generateFailures: GenerateFailure[]
  summary: TransferSummary
  /** Tags a provider's limit left out, per repository. */
  omittedTags?: {repository: string; count: number}[]
  /** When the engine started and finished (ISO 8601). */
  startedAt?: string
  finishedAt?: string
  /**
   * A drain or abort left work undone: the rules were not listed to the end, or a queued job never
   * ran. A stop that came after the last job finished interrupts nothing.
   */
  interrupted?: boolean
  /**
   * Rules that did not finish: not listed to the end, or with jobs that never ran. With
   * `allRulesRead` false, the rule stream (a provider's enumeration) was cut short too and rules
   * after these were never seen.
   */
  unfinishedRules?: string[]
  allRulesRead?: boolean
  /** --prune: the destination tags deleted and kept; absent when prune was not asked for. */
  prune?: PruneReport
}

/** How a run ended besides its results: what a stop or a failed listing left undone. */
export interface RunEnding {
  interrupted?: boolean
  /** Rules not listed to the end, or with jobs that never ran. */
  unfinishedRules?: readonly string[]
  /** False: the rules themselves (a provider's enumeration) were not all read. */
  allRulesRead?: boolean
}

export function summarize(
  results: readonly JobResult[],
  generateFailures: readonly GenerateFailure[],
  extra: {requests: number; durationMs: number; dryRun?: boolean; verify?: boolean; interrupted?: boolean; pullQuotas?: readonly PullQuota[]},
): TransferSummary {
  const count = (status: JobResult['status']) => results.filter((result) => result.status === status).length
  const looked = results.filter((result) => result.referrers)
  const referrers = looked.length === 0 ? undefined : referrerTotals(looked)
  return {
    ...(extra.dryRun ? {dryRun: true, planned: count('planned')} : {}),
    ...(extra.verify ? {verify: true, verified: count('verified')} : {}),
    ...(extra.interrupted ? {interrupted: true} : {}),
    ...(count('interrupted') > 0 ? {interruptedJobs: count('interrupted')} : {}),
    ...(referrers ? {referrers} : {}),
    jobs: results.length,
    copied: count('copied'),
    skipped: count('skipped'),
    failed: count('failed'),
    generateFailed: generateFailures.length,
    bytes: results.reduce((sum, result) => sum + result.bytes, 0),
    requests: extra.requests,
    durationMs: extra.durationMs,
    ...(extra.pullQuotas && extra.pullQuotas.length > 0 ? {pullQuotas: extra.pullQuotas.map((quota) => ({...quota}))} : {}),
  }
}

function referrerTotals(results: readonly JobResult[]): NonNullable<TransferSummary['referrers']> {
  const sum = (of: (referrers: NonNullable<JobResult['referrers']>) => number) => results.reduce((total, result) => total + of(result.referrers!), 0)
  return {copied: sum((r) => r.copied), present: sum((r) => r.present), planned: sum((r) => r.planned?.length ?? 0)}
}

/** One line per registry that stated a pull limit. Pure. */
export function formatPullQuotas(quotas: readonly PullQuota[] = []): string[] {
  return quotas.map((quota) => {
    const of = quota.limit !== undefined ? ` of ${quota.limit}` : ''
    const per = quota.windowSeconds ? ` per ${quota.windowSeconds} s` : ''
    const stopped = quota.stoppedAt ? `; pulls stopped at ${quota.stoppedAt}, the window has passed by ${quota.resetsBy}` : ''
    return `Pull limit of ${quota.registry}: ${quota.remaining}${of} pulls left${per}${stopped}`
  })
}

/** The closing lines: every failure with its reason, then image-transfer's last line. Pure. */
export function formatReport(
  summary: TransferSummary,
  results: readonly JobResult[],
  generateFailures: readonly GenerateFailure[],
  omittedTags: readonly {repository: string; count: number}[] = [],
  ending: RunEnding = {},
): string[] {
  const lines: string[] = []
  const omitted = omittedTags.reduce((sum, item) => sum + item.count, 0)
  if (omitted > 0) lines.push(`Tags left out by the tag limit: ${omitted} in ${omittedTags.length} repositories`)
  if (generateFailures.length > 0) {
    lines.push(`Rules that generated no jobs (${generateFailures.length}):`)
    for (const failure of generateFailures) lines.push(`  ${failure.message}`)
  }
  const failed = results.filter((result) => result.status === 'failed')
  if (failed.length > 0) {
    lines.push(`Failed jobs (${failed.length}):`)
    for (const result of failed) lines.push(`  ${result.source} → ${result.destination}: ${result.error?.message ?? 'unknown error'}`)
  }
  const cut = results.filter((result) => result.status === 'interrupted')
  if (cut.length > 0) {
    lines.push(`Interrupted jobs (${cut.length}), to finish with the same command:`)
    for (const result of cut) lines.push(`  ${result.source} → ${result.destination}`)
  }
  lines.push(...formatUnfinished(ending))
  lines.push(...formatPullQuotas(summary.pullQuotas))
  if (summary.dryRun) {
    lines.push(
      `Dry run: nothing was written; ${summary.planned ?? 0} jobs would copy, ${summary.skipped} would be skipped, ${summary.failed} failed while planning` +
        (summary.referrers?.planned ? `; ${summary.referrers.planned} referrers would be copied` : ''),
    )
  }
  // image-transfer's last line; "Finished" would tell a script reading it that the run did.
  lines.push(
    `${ending.interrupted ? 'Interrupted' : 'Finished'}, ${summary.failed} transfer jobs failed, ${summary.generateFailed} jobs generate failed` +
      ` (${summary.copied} copied, ${summary.skipped} skipped, ${summary.interruptedJobs ? `${summary.interruptedJobs} interrupted, ` : ''}${summary.referrers?.copied ? `${summary.referrers.copied} referrers copied, ` : ''}${formatBytes(summary.bytes)} moved, ${summary.requests} requests, ${(summary.durationMs / 1000).toFixed(1)}s)`,
  )
  return lines
}

/** How many unfinished rules the closing lines name; the --report file names them all. */
const NAMED_RULES = 20

/** The rules a stop or a failed listing left unfinished, one a line. Pure. */
export function formatUnfinished(ending: RunEnding): string[] {
  const rules = ending.unfinishedRules ?? []
  const unread = ending.interrupted && ending.allRulesRead === false
  if (rules.length === 0 && !unread) return []
  const lines = [`Rules that did not finish (${rules.length}${unread ? '+' : ''}):`]
  for (const rule of rules.slice(0, NAMED_RULES)) lines.push(`  ${rule}`)
  if (rules.length > NAMED_RULES) lines.push(`  … and ${rules.length - NAMED_RULES} more`)
  if (unread) lines.push('  … and the rules after these: the rules were not read to the end')
  return lines
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

/** One progress line per finished job. */
export function formatProgress(index: number, result: JobResult): string {
  const head = `[${index}] ${result.status} ${result.source} → ${result.destination}`
  if (result.status === 'failed') return `${head}: ${result.error?.message ?? 'unknown error'}`
  if (result.status === 'interrupted') return head
  if (result.status === 'skipped') return `${head} (${result.note ?? result.reason ?? 'same digest'})${plannedReferrers(result)}`
  if (result.status === 'planned')
    return `${head} ${result.digest ?? ''}${result.destinationDigest ? ` as ${result.destinationDigest}` : ''} (${result.note ?? 'would copy'})${plannedReferrers(result)}`
  if (result.status === 'verified') return `${head} complete`
  const {uploaded, mounted, existing} = result.blobs
  return `${head} (${formatBytes(result.bytes)}; blobs: ${uploaded} uploaded, ${mounted} mounted, ${existing} present${result.note ? `; ${result.note}` : ''})`
}

/** A dry run's referrers of one job, as the end of its line. Pure. */
function plannedReferrers(result: JobResult): string {
  const planned = result.referrers?.planned ?? []
  return planned.length > 0 ? `; referrers it would copy: ${planned.join(', ')}` : ''
}
