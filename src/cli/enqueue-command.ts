import type {Command} from '@oclif/core'

import {ConfigError} from '../errors.js'
import {parseQueueAddress} from '../fleet/connection.js'
import {enqueueTransfer} from '../fleet/enqueue.js'
import {loadTransferInputs, type RuleFormat} from '../inputs.js'
import {createLogger} from '../report/logger.js'
import {formatUnfinished} from '../report/summary.js'
import {engineSettings, type EngineFlagValues} from './engine-flags.js'
import {runQueueCommand} from './queue-flags.js'
import {selectionSettings, type SelectionFlagValues} from './selection-flags.js'
import {abortOnStopSignals} from './stop-signals.js'

export interface EnqueueFlags extends EngineFlagValues, SelectionFlagValues {
  queue: string
  'queue-name': string
  standing: boolean
  ruleFile?: string
  images?: string
  config?: string
  format?: string
  securityFile?: string
  registry?: string
  ns?: string
  ccrToTcr?: boolean
  'dry-run'?: boolean
  deep?: boolean
  report?: string
  log?: string
  quiet: boolean
}

/** Settings the workers own or that need a run of their own: refused with --queue rather than ignored. */
const NOT_WITH_QUEUE = ['ccrToTcr', 'dry-run', 'deep', 'report', 'chunk-size', 'limit-rate', 'referrers-artifact-type', 'include-nondistributable'] as const

/**
 * `ferry transfer --queue`: the generator's jobs into the fleet's queue. Prints the number added
 * (a plain number on the first line) and how many the queue already held; writes to no registry.
 */
export async function runEnqueue(command: Command, flags: EnqueueFlags): Promise<void> {
  await runQueueCommand(command, async () => {
    const refused = NOT_WITH_QUEUE.filter((name) => Boolean(flags[name]))
    if (flags.standing) refused.push('--schedule/--interval/--listen/--stateFile' as never)
    if (flags['tag-exist-overridden'] === false) refused.push('tag-exist-overridden=false' as never)
    if (flags.referrers === false) refused.push('referrers=false' as never)
    if (refused.length > 0) {
      throw new ConfigError(
        `--queue only enqueues; it does not take ${refused.map((name) => (name.startsWith('-') ? name : `--${name}`)).join(', ')} (workers copy with their own settings)`,
      )
    }
    const queue = parseQueueAddress(flags.queue, flags['queue-name'])
    const {flatten, ...selection} = selectionSettings(flags)
    const inputs = await loadTransferInputs({
      ruleFile: flags.ruleFile,
      images: flags.images,
      config: flags.config,
      format: flags.format as RuleFormat | undefined,
      securityFile: flags.securityFile,
      registry: flags.registry,
      ns: flags.ns,
      ...(flatten !== undefined ? {flatten} : {}),
    })
    const settings = engineSettings(flags)
    const stop = abortOnStopSignals()
    try {
      const report = await enqueueTransfer({
        queue,
        rules: inputs.rules,
        ruleErrors: inputs.ruleErrors,
        credentials: inputs.credentials,
        tagFilter: settings.tagFilter,
        ...selection,
        routines: settings.routines,
        qps: settings.qps,
        logger: createLogger({logFile: flags.log, quiet: flags.quiet}),
        signal: stop.signal,
      })
      command.log(String(report.enqueued))
      command.log(`${report.existing} already queued or done`)
      // A stop while listing leaves jobs out of the queue: said, and not a success.
      if (report.interrupted) {
        for (const line of formatUnfinished(report)) command.logToStderr(line)
        command.logToStderr('Interrupted: the queue does not hold every job of these rules; enqueue again to add the rest')
      }
      // Each failure was logged as it happened ("generate failed: …").
      if (report.generateFailures.length > 0 || report.interrupted) process.exitCode = 1
    } finally {
      stop.release()
    }
  })
}
