import type {Command} from '@oclif/core'

import {describeError, FerryError} from '../errors.js'
import type {RegistryObserver} from '../registry/client.js'
import {requestLine, type LogFormat} from '../report/log-line.js'
import {createLogger, type Logger} from '../report/logger.js'
import {createProgressDisplay, wantsLiveProgress, type ProgressDisplay} from '../report/progress.js'
import {redactCommandLine} from '../report/redactor.js'
import {buildRunReport, type RunReport} from '../report/run-report.js'
import {formatReport} from '../report/summary.js'
import {checkReportTarget, writeRunReport} from '../report/write-report.js'
import {abortOnStopSignals, signalExitCode} from './stop-signals.js'
import {exitWithUserError} from './user-error.js'
import type {TransferReport} from '../report/summary.js'

/** The output flags every engine command takes. */
export interface OutputFlags {
  log?: string
  quiet: boolean
  verbose?: boolean
  report?: string
  'log-format'?: string
  debug?: boolean
}

/** What a command's run is handed: where it logs, what stops it, and (--debug) who hears each registry request. */
export interface RunContext {
  logger: Logger
  signal: AbortSignal
  observer?: RegistryObserver
}

/** --debug: each registry request (its URL already redacted by the session) as a line of the logger. */
export function debugObserver(logger: Logger): RegistryObserver {
  return {
    onRequest(registry, method, status, detail) {
      if (!detail) return
      const {line, fields} = requestLine({registry, method, url: detail.url, status, ms: detail.ms})
      logger.debug?.(line, fields)
    },
  }
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
  body: (context: RunContext) => Promise<TransferReport>,
  /** The closing lines; the transfer report by default. */
  closing: (report: TransferReport) => string[] = (report) => formatReport(report.summary, report.results, report.generateFailures, report.omittedTags, report),
): Promise<RunReport> {
  const json = command.jsonEnabled()
  const startedAt = new Date().toISOString()
  const stop = abortOnStopSignals()
  let display: ProgressDisplay | undefined
  const format = (flags['log-format'] ?? 'text') as LogFormat
  const logging = {logFile: flags.log, quiet: flags.quiet, json, verbose: flags.verbose, format}
  let logger: Logger = createLogger(logging)
  let report: TransferReport
  try {
    // A report path that cannot work is an input error: said before anything is copied.
    if (flags.report) await checkReportTarget(flags.report)
    // JSON log lines are for programs: no bar drawn between them.
    if (!flags.quiet && !json && format === 'text' && wantsLiveProgress(process, process.env)) {
      display = createProgressDisplay(process.stderr)
      logger = createLogger({...logging, display})
    }
    report = await body({logger, signal: stop.signal, ...(flags.debug ? {observer: debugObserver(logger)} : {})})
  } catch (error) {
    display?.stop()
    if (!FerryError.is(error)) throw error
    if (format === 'json' && !json) {
      logger.warn(`Error: ${error.message}`)
      command.exit(2)
    }
    exitWithUserError(command, error.message)
  } finally {
    display?.stop()
    stop.release()
  }
  // One document for --json and --report FILE.json.
  const document = buildRunReport(report, {
    startedAt,
    finishedAt: new Date().toISOString(),
    ferryVersion: command.config.version,
    command: redactCommandLine(['ferry', ...process.argv.slice(2)]),
  })
  let reportFailed = false
  if (flags.report) {
    try {
      await writeRunReport(flags.report, document)
      logger.result(`Report written to ${flags.report}`)
    } catch (error) {
      reportFailed = true
      logger.warn(`Error: --report ${flags.report} was not written: ${describeError(error)}`)
    }
  }
  for (const line of closing(report)) logger.result(line)
  // A stop (SIGINT/SIGTERM) that left work undone is no success: the shell's 130 or 143 says which
  // signal ended it (1 when the work was cut short otherwise, a failed listing).
  if (report.summary.failed > 0 || report.summary.generateFailed > 0 || report.interrupted || reportFailed || report.prune?.stopped) process.exitCode = 1
  const signal = stop.received()
  if (signal && report.interrupted) process.exitCode = signalExitCode(signal)
  return document
}
