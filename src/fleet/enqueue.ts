import {Queue} from 'bullmq'

import type {Rule} from '../config/rules.js'
import type {CredentialStore} from '../config/security.js'
import {ruleFailures} from '../engine/results.js'
import {withSession} from '../engine/session.js'
import {describeError, errorCode, type ConfigError} from '../errors.js'
import {RuleProgress} from '../pipeline/rule-progress.js'
import {destinationsOf, type TransferJob} from '../pipeline/job.js'
import type {Logger} from '../report/logger.js'
import type {GenerateFailure} from '../report/summary.js'
import type {Platform} from '../select/platforms.js'
import type {Selection} from '../engine/options.js'
import {checkReachable, connect, jobIdOf, type QueueAddress} from './connection.js'
import {toQueuedJob} from './job-data.js'
import {formatReference} from '../reference.js'

export interface EnqueueOptions extends Pick<Selection, 'tagFilter' | 'tagSelection'> {
  queue: QueueAddress
  rules: Iterable<Rule> | AsyncIterable<Rule>
  ruleErrors?: readonly ConfigError[]
  credentials: CredentialStore
  /** --platform: given to every job that has no platforms of its own (the workers take no --platform). */
  platforms?: Platform[]
  /** Tag listings and source HEADs at once. */
  routines?: number
  /** This step's own request rate (listing and HEADs); unlimited when absent. */
  qps?: number
  logger?: Logger
  signal?: AbortSignal
}

export interface EnqueueReport {
  /** Jobs added now. */
  enqueued: number
  /** Jobs the queue already held under the same id: waiting, active, done or failed. */
  existing: number
  generateFailures: GenerateFailure[]
  /** A stop left rules not listed to the end: their jobs are not all in the queue. */
  interrupted: boolean
  unfinishedRules: string[]
  /** False: the rules themselves were not read to the end either. */
  allRulesRead: boolean
}

/**
 * The producer side of a fleet: the generator's jobs, each pinned to the source digest a HEAD
 * finds now, added under an id made of that digest and the destinations. Writes nothing to any
 * registry and does not wait for workers.
 */
export async function enqueueTransfer(options: EnqueueOptions): Promise<EnqueueReport> {
  const settings = {
    credentials: options.credentials,
    selection: {tagFilter: options.tagFilter, tagSelection: options.tagSelection},
    limits: {routines: options.routines, qps: options.qps},
    output: {logger: options.logger},
    signal: options.signal,
  }
  return withSession(settings, async (session) => {
    const {logger, routines} = session
    const redact = (text: string) => session.redactor.redact(text)
    const generateFailures: GenerateFailure[] = ruleFailures(options.ruleErrors ?? [], redact)
    const fail = (rule: string, error: unknown) => {
      const failure = {rule, code: errorCode(error), message: redact(describeError(error))}
      generateFailures.push(failure)
      logger.warn(`generate failed: ${failure.message}`)
    }
    await checkReachable(options.queue)
    const connection = connect(options.queue)
    const queue = new Queue(options.queue.name, {connection})
    let enqueued = 0
    let existing = 0

    const add = async (job: TransferJob) => {
      try {
        const digest = job.source.digest ?? (await session.endpoints.source(job.source).headManifest(job.source.tag!, options.signal))?.digest
        if (!digest) throw new Error(`${formatReference(job.source)}: manifest not found`)
        const pinned: TransferJob = {...job, source: {...job.source, digest}}
        if (options.platforms && !pinned.platforms) pinned.platforms = options.platforms
        const id = jobIdOf(digest, destinationsOf(pinned).map(formatReference))
        if ((await queue.getJobState(id)) !== 'unknown') {
          existing++
          return
        }
        // Done and failed jobs are kept: their ids are what makes an enqueue of the same rules a no-op.
        await queue.add('copy', toQueuedJob(pinned), {jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false})
        enqueued++
      } catch (error) {
        fail(job.rule, error)
      }
    }

    const inFlight = new Set<Promise<void>>()
    const progress = new RuleProgress()
    try {
      const generated = session.jobs(progress.track(options.rules), {onListed: (rules) => progress.listed(rules)})
      try {
        for await (const item of generated) {
          if (item.kind === 'error') {
            fail(item.rule, item.error)
            continue
          }
          const pending = add(item.job).finally(() => inFlight.delete(pending))
          inFlight.add(pending)
          if (inFlight.size >= routines) await Promise.race(inFlight)
        }
      } catch (error) {
        // As in a local run: what was enqueued stays enqueued, and the stop is a generate failure.
        if (!options.signal?.aborted) fail('*', new Error(`generating jobs stopped: ${describeError(error)}`))
      }
      await Promise.all(inFlight)
    } finally {
      await Promise.all(inFlight)
      await queue.close()
      connection.disconnect()
    }
    return {enqueued, existing, generateFailures, interrupted: !progress.listedAll, unfinishedRules: progress.unfinished(), allRulesRead: progress.allRead}
  })
}
