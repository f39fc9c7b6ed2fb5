import type {Command} from '@oclif/core'

import {describeError, FerryError} from '../errors.js'
import {createLogger, type Logger} from '../report/logger.js'
import {createProgressDisplay, wantsLiveProgress, type ProgressDisplay} from '../report/progress.js'
import {buildRunReport} from '../report/run-report.js'
import {formatReport} from '../report/summary.js'
import {checkReportTarget, writeRunReport} from '../report/write-report.js'
import {abortOnStopSignals} from './stop-signals.js'
import {exitWithUserError} from './user-error.js'
import type {TransferReport} from '../report/summary.js'

/** The output flags every engine command takes. */
export interface OutputFlags {
  log?: string
  quiet: boolean
  verbose?: boolean
  report?: string
}

/**
 * The shell every engine command shares: a logger from the flags (with a live progress line on
 * a terminal), SIGINT/SIGTERM as an abort, one-line errors for inputs the user must fix (exit 2),
 * the --report file, the closing report, and exit code 1 when any job or rule failed or a stop
 * left work undone (a run cut short is not a success, whatever did finish).
 */
export async function runEngineCommand(
  command: Command & {jsonEnabled(): boolean},
  flags: OutputFlags,
  body: (context: {logger: Logger; signal: AbortSignal}) => Promise<TransferReport>,
  /** The closing lines; the transfer report by default. */
  format: (report: TransferReport) => string[] = (report) => formatReport(report.summary, report.results, report.generateFailures, report.omittedTags, report),
): Promise<TransferReport> {
  const json = command.jsonEnabled()
  const startedAt = new Date().toISOString()
  const stop = abortOnStopSignals()
  let display: ProgressDisplay | undefined
  let logger: Logger = createLogger({logFile: flags.log, quiet: flags.quiet, json, verbose: flags.verbose})
  let report: TransferReport
  try {
    // A report path that cannot work is an input error: said before anything is copied.
    if (flags.report) await checkReportTarget(flags.report)
    if (!flags.quiet && !json && wantsLiveProgress(process, process.env)) {
      display = createProgressDisplay(process.stderr)
      logger = createLogger({logFile: flags.log, quiet: flags.quiet, json, verbose: flags.verbose, display})
    }
    report = await body({logger, signal: stop.signal})
  } catch (error) {
    display?.stop()
    if (!FerryError.is(error)) throw error
    exitWithUserError(command, error.message)
  } finally {
    display?.stop()
    stop.release()
  }
  let reportFailed = false
  if (flags.report) {
    try {
      await writeRunReport(flags.report, buildRunReport(report, {startedAt, finishedAt: new Date().toISOString()}))
      logger.result(`Report written to ${flags.report}`)
    } catch (error) {
      reportFailed = true
      logger.warn(`Error: --report ${flags.report} was not written: ${describeError(error)}`)
    }
  }
  for (const line of format(report)) logger.result(line)
  // A stop (SIGINT/SIGTERM) that left work undone is no success: exit 1, as a standing run's does.
  if (report.summary.failed > 0 || report.summary.generateFailed > 0 || report.interrupted || reportFailed) process.exitCode = 1
  return report
}
