import type {Command} from '@oclif/core'

import {FerryError} from '../errors.js'
import {createLogger, type Logger} from '../report/logger.js'
import {formatReport} from '../report/summary.js'
import type {TransferReport} from '../transfer/run.js'

/**
 * The shell every engine command shares: a logger from the flags, SIGINT/SIGTERM as an abort,
 * one-line errors for inputs the user must fix (exit 2), the closing report, and exit code 1
 * when any job or rule failed.
 */
export async function runEngineCommand(
  command: Command & {jsonEnabled(): boolean},
  flags: {log?: string; quiet: boolean},
  body: (context: {logger: Logger; signal: AbortSignal}) => Promise<TransferReport>,
  /** The closing lines; the transfer report by default. */
  format: (report: TransferReport) => string[] = (report) => formatReport(report.summary, report.results, report.generateFailures, report.omittedTags),
): Promise<TransferReport> {
  const json = command.jsonEnabled()
  const logger = createLogger({logFile: flags.log, quiet: flags.quiet, json})
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  let report: TransferReport
  try {
    report = await body({logger, signal: abort.signal})
  } catch (error) {
    if (!FerryError.is(error)) throw error
    if (json) {
      // oclif prints the error as JSON, then exits with process.exitCode (else 1), not `exit`.
      process.exitCode = 2
      command.error(error.message, {exit: 2})
    }
    // A file the user must fix is one line naming it. oclif's error display would wrap it at
    // 80 columns (stderr is seldom a terminal in CI) and prefix each piece with ' ›'.
    command.logToStderr(`Error: ${error.message}`)
    command.exit(2)
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
  for (const line of format(report)) logger.result(line)
  if (report.summary.failed > 0 || report.summary.generateFailed > 0) process.exitCode = 1
  return report
}
