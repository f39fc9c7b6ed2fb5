import {Flags} from '@oclif/core'

import {FerryCommand} from '../cli/ferry-command.js'

import {engineFlagsNamed, engineSettings, qpsFlag} from '../cli/engine-flags.js'
import {queueFlags, runQueueCommand} from '../cli/queue-flags.js'
import {abortOnStopSignals} from '../cli/stop-signals.js'
import {parseQueueAddress} from '../fleet/connection.js'
import {loadWorkerCredentials} from '../fleet/credentials.js'
import {runWorker} from '../fleet/worker.js'
import {debugObserver} from '../cli/run-command.js'
import type {LogFormat} from '../report/log-line.js'
import {createLogger} from '../report/logger.js'

export default class Worker extends FerryCommand {
  static override summary = 'Copy the jobs of a Redis queue, as one of a fleet of workers on any number of machines.'

  static override description = `Takes jobs that \`ferry transfer --queue\` enqueued and copies them with the same engine and
retry policy as transfer. Credentials come only from this worker's --securityFile; the queue holds
image references only. --qps is the budget of the whole fleet: every worker of the queue shares it
through Redis (give every worker the same value). Runs until SIGTERM or SIGINT, then takes no
more jobs, finishes those in flight and exits 0; a worker killed outright has its jobs handed to
another worker after --lock-duration.`

  static override examples = ['<%= config.bin %> worker --queue redis://redis:6379/0 --securityFile security.yaml --routines 10 --qps 100']

  static override flags = {
    ...queueFlags(true),
    ...engineFlagsNamed('securityFile', 'routines', 'retry'),
    qps: qpsFlag({
      description:
        'at most this many requests per second to all registries, across every worker of the queue together, evenly paced; fractions too (0.5: one every 2 s); 0 = unlimited',
    }),
    ...engineFlagsNamed('chunk-size', 'limit-rate', 'referrers', 'referrers-artifact-type', 'include-nondistributable', 'blob-connections', 'resume-dir'),
    'lock-duration': Flags.integer({
      aliases: ['lockDuration'],
      description: "seconds a job stays claimed by a worker that stops renewing the claim; a killed worker's jobs go to others after about this long",
      default: 30,
      min: 2,
      max: 600,
    }),
    ...engineFlagsNamed('log', 'quiet', 'verbose', 'log-format', 'debug'),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Worker)
    const stop = abortOnStopSignals()
    await runQueueCommand(this, async () => {
      const queue = parseQueueAddress(flags.queue!, flags['queue-name'])
      const credentials = await loadWorkerCredentials(flags.securityFile)
      const logger = createLogger({logFile: flags.log, quiet: flags.quiet, verbose: flags.verbose, format: flags['log-format'] as LogFormat})
      const report = await runWorker({
        queue,
        credentials,
        ...engineSettings(flags),
        lockDurationMs: flags['lock-duration'] * 1000,
        logger,
        stop: stop.signal,
        ...(flags.debug ? {observer: debugObserver(logger)} : {}),
      })
      const failed = report.results.filter((result) => result.status === 'failed').length
      logger.result(`stopped: ${report.results.length - failed} copied or skipped, ${failed} failed (see ferry status)`)
    })
  }
}
