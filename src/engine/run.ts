/**
 * A whole run over a session's steps: rules → jobs → bounded channel → routines, with every
 * result counted, told (events, progress lines, `onResult`) and summed up in the report.
 */
import {describeError, errorCode} from '../errors.js'
import {MemoryChannel} from '../pipeline/channel.js'
import type {Generated, SourceListing} from '../pipeline/generate.js'
import {destinationsOf, type TransferJob} from '../pipeline/job.js'
import {RuleProgress} from '../pipeline/rule-progress.js'
import {formatProgress, summarize, type GenerateFailure, type JobResult, type TransferReport} from '../report/summary.js'
import {sessionOptions, type EngineOptions, type RunInput} from './options.js'
import {pruneDestinations} from './prune.js'
import {ruleFailures, references} from './results.js'
import {withSession, type EngineSession} from './session.js'

export type {EngineOptions} from './options.js'
export type {TransferReport} from '../report/summary.js'

/**
 * The engine: rules → generator → bounded channel → routines copying images. Returns every job's
 * result; never throws for a job's failure (those are results), only for misuse.
 */
export async function runTransfer(options: EngineOptions): Promise<TransferReport> {
  return withSession(sessionOptions(options), (session) => runRules(session, options))
}

/** What a run has done so far: its results and failures as they come, and the report at its end. */
export class RunTally {
  readonly results: JobResult[] = []
  readonly generateFailures: GenerateFailure[] = []
  readonly progress = new RuleProgress()
  /** Jobs queued, one per destination. */
  jobs = 0
  private readonly started = Date.now()

  constructor(private readonly session: EngineSession) {}

  failed(failure: GenerateFailure): void {
    this.generateFailures.push(failure)
    this.session.logger.warn(`generate failed: ${failure.message}`)
  }

  queued(job: TransferJob): void {
    // One result per destination: a several-destination job counts as that many.
    for (const destination of destinationsOf(job)) {
      this.jobs++
      this.progress.queued(job.rule)
      this.session.emit({type: 'job-queued', ...references(job, destination)})
    }
  }

  finished(results: readonly JobResult[]): void {
    for (const result of results) {
      this.results.push(result)
      this.progress.finished(result.rule)
      // The event first: a live display then knows the next line is this job's.
      this.session.emit({type: 'job-finished', index: this.results.length, result})
      this.session.logger.info(formatProgress(this.results.length, result))
      this.session.onResult?.(result)
    }
  }

  /** `listing`: how far the rules were read and listed; without it, the jobs came from elsewhere (a queue). */
  report(listing: {listedAll: boolean; allRead: boolean} = {listedAll: true, allRead: true}): TransferReport {
    const finished = Date.now()
    const interrupted = !listing.listedAll || this.results.length < this.jobs
    return {
      results: this.results,
      generateFailures: this.generateFailures,
      summary: summarize(this.results, this.generateFailures, {
        requests: this.session.requests,
        durationMs: finished - this.started,
        dryRun: this.session.mode === 'dry run',
        verify: this.session.mode === 'verify',
        interrupted,
        pullQuotas: this.session.pullQuotas,
      }),
      startedAt: new Date(this.started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      interrupted,
      unfinishedRules: this.progress.unfinished(),
      allRulesRead: listing.allRead,
    }
  }
}

/** One run of a session: its rules produced into a channel and consumed by its routines. */
export async function runRules(session: EngineSession, input: RunInput): Promise<TransferReport> {
  const tally = new RunTally(session)
  const redact = (text: string) => session.redactor.redact(text)
  const parsed = ruleFailures(input.ruleErrors ?? [], redact)
  for (const failure of parsed) tally.failed(failure)
  for (const warning of input.ruleWarnings ?? []) session.logger.warn(`warning: ${warning}`)

  const channel = input.channel ?? new MemoryChannel<TransferJob>(session.routines * 4)
  const {progress} = tally
  const listings: SourceListing[] = []
  const generated = session.jobs(progress.track(input.rules, session.starting), {
    distinctDestinations: input.distinctDestinations,
    onListed: (rules) => progress.listed(rules),
    onSourceListing: session.prune ? (listing) => listings.push(listing) : undefined,
  })
  let listedAll = false
  const produce = async () => {
    try {
      for await (const item of generated as AsyncIterable<Generated>) {
        if (item.kind === 'job') {
          tally.queued(item.job)
          await channel.push(item.job, {signal: session.starting})
        } else tally.failed({rule: item.rule, code: item.error.code, message: redact(item.error.message)})
      }
      // The generator also ends early, without an error, when the listing is stopped: the rules say whether it did.
      listedAll = progress.listedAll
    } catch (error) {
      if (!session.starting?.aborted) {
        tally.generateFailures.push({rule: '*', code: errorCode(error), message: `generating jobs stopped: ${describeError(error)}`})
      }
    } finally {
      channel.close()
      session.emit({type: 'jobs-known', jobs: tally.jobs})
    }
  }
  await Promise.all([produce(), session.consume(channel, (results) => tally.finished(results))])
  const report = tally.report({listedAll, allRead: progress.allRead})
  // After the copies, so a tag is only deleted once the run has settled what the destination keeps.
  if (session.prune && session.mode !== 'verify' && !input.channel) {
    const settled = !report.interrupted && !session.starting?.aborted
    const state = {listings, results: report.results, generateFailures: report.generateFailures, listedAll: listedAll && settled}
    report.prune = await pruneDestinations(session, state, session.prune)
  }
  // A queue's jobs come from elsewhere: no local rules is not a mistake there; nor is a stop before any was listed.
  if (tally.jobs === 0 && tally.generateFailures.length === 0 && !input.channel && !report.interrupted)
    session.logger.warn('the rules name no images: nothing to copy')
  return report
}
