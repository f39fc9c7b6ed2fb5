import type {Command} from '@oclif/core'

import {FerryError} from '../errors.js'
import {createLogger, type Logger} from '../report/logger.js'
import {startService} from '../serve/service.js'
import type {SyncJob} from '../serve/sync-job.js'
import type {LogFormat} from '../report/log-line.js'
import {redactCommandLine} from '../report/redactor.js'
import {buildRunReport, type RunReport} from '../report/run-report.js'
import {debugObserver} from './run-command.js'
import {serviceSettings, type ServiceFlagValues} from './serve-flags.js'
import {onStopSignals} from './stop-signals.js'
import {exitWithUserError} from './user-error.js'

/**
 * The shell of the long-running mode: jobs built from the flags (a broken input file is exit 2
 * before anything starts), SIGINT/SIGTERM as a graceful stop (a second one abandons copies in
 * flight), and exit code 0 only when every job's last run was complete.
 */
export async function runServiceCommand(
  command: Command & {jsonEnabled(): boolean},
  flags: ServiceFlagValues & {log?: string; quiet: boolean; 'log-format'?: string; debug?: boolean},
  buildJobs: (logger: Logger) => Promise<SyncJob[]>,
): Promise<RunReport | undefined> {
  const json = command.jsonEnabled()
  const startedAt = new Date().toISOString()
  const logger = createLogger({logFile: flags.log, quiet: flags.quiet, json, format: (flags['log-format'] ?? 'text') as LogFormat})
  // A signal while the inputs are still being read stops the service as soon as it exists.
  let stopRequested = false
  let stop = () => {
    stopRequested = true
  }
  const release = onStopSignals(() => stop(), {times: 'every'})
  try {
    let service: Awaited<ReturnType<typeof startService>>
    try {
      const settings = serviceSettings(flags)
      const jobs = await buildJobs(logger)
      service = await startService({...settings, jobs, logger, ...(flags.debug ? {observer: debugObserver(logger)} : {})})
    } catch (error) {
      if (!FerryError.is(error)) throw error
      exitWithUserError(command, error.message)
    }
    stop = () => service.stop()
    if (stopRequested) service.stop()
    const outcome = await service.done
    process.exitCode = outcome.complete ? 0 : 1
    const report = outcome.reports.values().next().value
    // --json prints the document of the last run, as a one-shot run prints its own.
    return (
      report &&
      buildRunReport(report, {
        startedAt,
        finishedAt: new Date().toISOString(),
        ferryVersion: command.config.version,
        command: redactCommandLine(['ferry', ...process.argv.slice(2)]),
      })
    )
  } finally {
    release()
  }
}
