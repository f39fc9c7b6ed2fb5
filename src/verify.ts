/**
 * `ferry verify`: proof that a migration is complete. The same inputs and filters as `transfer`,
 * run through the same engine (limiter, routines, retries) with destinations that refuse writes;
 * each job is 'verified' or 'failed' with what is missing.
 */
import {runTransfer, type EngineOptions} from './engine/run.js'
import type {GenerateFailure, JobResult, RunEnding, TransferReport} from './report/summary.js'

/** Checks every job's destination with values already read (from-files.ts reads files); dryRun and deep are ignored. */
export function verifyRules(options: EngineOptions): Promise<TransferReport> {
  return runTransfer({...options, dryRun: false, deep: false, verify: true})
}

/**
 * The closing lines of `ferry verify`: one line per missing or different item, then the count.
 * "Complete" only when every rule was listed to the end and every tag checked. Pure.
 */
export function formatVerifyReport(results: readonly JobResult[], generateFailures: readonly GenerateFailure[], ending: RunEnding = {}): string[] {
  const lines: string[] = []
  const unfinished = ending.unfinishedRules ?? []
  const unread = ending.interrupted === true && ending.allRulesRead === false
  for (const failure of generateFailures) lines.push(`not checked: ${failure.message}`)
  for (const rule of unfinished) lines.push(`not checked to the end: rule ${rule}${ending.interrupted ? ' (interrupted)' : ''}`)
  if (unread) lines.push('not checked: the rules after these were never read (interrupted)')
  for (const result of results) {
    if (result.status !== 'failed') continue
    if (result.missing) for (const item of result.missing) lines.push(`${item} (for ${result.source})`)
    else lines.push(`not checked: ${result.source} → ${result.destination}: ${result.error?.message ?? 'unknown error'}`)
  }
  const count = (status: JobResult['status']) => results.filter((result) => result.status === status).length
  const incomplete = results.filter((result) => result.missing).length
  const unchecked = count('failed') - incomplete
  const complete = count('verified')
  const leftOut = count('skipped')
  const cut = ending.interrupted === true || unfinished.length > 0
  const whole = incomplete === 0 && unchecked === 0 && generateFailures.length === 0 && !cut
  lines.push(
    `${whole ? 'Complete' : cut ? 'Incomplete (interrupted)' : 'Incomplete'}: ${complete} of ${results.length - leftOut} images verified at the destination` +
      `, ${incomplete} incomplete, ${unchecked} could not be checked, ${generateFailures.length} rules generated no jobs` +
      (leftOut > 0 ? `, ${leftOut} left out by --platform` : '') +
      (cut ? `, ${unfinished.length}${unread ? '+' : ''} rules not checked to the end` : ''),
  )
  return lines
}
