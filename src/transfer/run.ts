import type {Rule} from '../config/rules.js'
import type {CredentialStore} from '../config/security.js'
import {describeError, errorCode, type ConfigError} from '../errors.js'
import {MemoryChannel, type Channel} from '../pipeline/channel.js'
import {runRoutines} from '../pipeline/consume.js'
import {generateJobs, type Generated} from '../pipeline/generate.js'
import {describeLocation, type TransferJob} from '../pipeline/job.js'
import {listTags} from '../registry/catalog.js'
import type {RegistryObserver} from '../registry/client.js'
import {createLimiter, type RequestLimiter} from '../registry/limiter.js'
import {Redactor, redactingLogger, silentLogger, type Logger} from '../report/logger.js'
import {formatProgress, summarize, type GenerateFailure, type JobResult, type TransferSummary} from '../report/summary.js'
import {BlobFlights, BlobHomes} from './blob-flight.js'
import {ClientPool} from './clients.js'
import {copyImage, type CopyContext} from './copy-image.js'

export interface EngineOptions {
  /** Rules, or a stream of them (a provider enumerating a whole registry). */
  rules: Iterable<Rule> | AsyncIterable<Rule>
  /** Rules that failed to parse: each counts as "generate failed" in the summary. */
  ruleErrors?: readonly ConfigError[]
  /** Lines the rule loader read past on purpose; logged as warnings. */
  ruleWarnings?: readonly string[]
  /**
   * image-transfer's --tag-exist-overridden (default true). False: a destination tag that already
   * exists is never moved, even to a different digest; the job is skipped ("tag exists").
   */
  overwriteTags?: boolean
  /** Which listed tags to copy (--includeTags/--excludeTags); tags a rule names are always copied. */
  tagFilter?: (tag: string) => boolean
  credentials: CredentialStore
  /** Jobs copied at once (and tag listings at once). */
  routines?: number
  /** Attempts after the first for a failed job. */
  retry?: number
  /** Requests per second to all registries together; unlimited when absent. */
  qps?: number
  /** Upload blobs in PATCH chunks of this many bytes. */
  chunkSize?: number
  /** A request or blob stream idle this long fails (and is retried). */
  idleTimeoutMs?: number
  logger?: Logger
  signal?: AbortSignal
  /**
   * Graceful stop: once aborted, no new job starts (the generator stops, the routines take no more
   * jobs and retry none) while copies in flight go on; `signal` still abandons those.
   */
  drain?: AbortSignal
  /** Told of every registry request and every wait for the rate limit (metrics). */
  observer?: RegistryObserver
  /**
   * Held around each attempt of a job: lets runs that share a process (a schedule and push events)
   * keep from copying the same tag at the same time. Resolves with the release function.
   */
  exclusive?: (job: TransferJob) => Promise<() => void>
  /** Replaces the in-memory limiter, e.g. with one shared by a fleet. */
  limiter?: RequestLimiter
  /** Replaces the in-memory channel, e.g. with a Redis queue. */
  channel?: Channel<TransferJob>
  onResult?: (result: JobResult) => void
  /**
   * Makes a destination repository ready before the first push to it (a cloud registry's
   * namespace or repository that must exist first). Called once per repository per run.
   */
  prepareDestination?: (registry: string, repository: string, signal?: AbortSignal) => Promise<void>
  /** Base delay between job attempts (tests shorten it). */
  retryBaseMs?: number
}

export interface TransferReport {
  results: JobResult[]
  generateFailures: GenerateFailure[]
  summary: TransferSummary
  /** Tags a provider's limit left out, per repository. */
  omittedTags?: {repository: string; count: number}[]
}

/**
 * The engine: rules → generator → bounded channel → routines copying images. Returns every job's
 * result; never throws for a job's failure (those are results), only for misuse.
 */
export async function runTransfer(options: EngineOptions): Promise<TransferReport> {
  const started = Date.now()
  const routines = Math.max(1, options.routines ?? 5)
  // Registries can echo what they were sent; nothing a credential store holds leaves the engine.
  const redactor = new Redactor()
  for (const secret of options.credentials.secrets()) redactor.add(secret)
  const logger = redactingLogger(options.logger ?? silentLogger, redactor)
  const limiter = options.limiter ?? createLimiter({qps: options.qps})
  const ownsLimiter = !options.limiter
  // A limiter shared by several runs (a standing job's) counts them all; this run's share is the difference.
  const requestsBefore = limiter.started
  const clients = new ClientPool(
    (registry, repository) => {
      const access = options.credentials.lookup(registry, repository)
      return {key: access.entry ?? '', access}
    },
    {limiter, idleTimeoutMs: options.idleTimeoutMs, onSecret: (secret) => redactor.add(secret), observer: options.observer},
  )
  const context: CopyContext = {
    clients,
    flights: new BlobFlights(),
    homes: new BlobHomes(),
    chunkSize: options.chunkSize,
    overwriteTags: options.overwriteTags ?? true,
    signal: options.signal,
    prepare: options.prepareDestination ? once(options.prepareDestination) : undefined,
  }
  const results: JobResult[] = []
  const generateFailures: GenerateFailure[] = (options.ruleErrors ?? []).map((error) => ({
    rule: error.file ? `${error.file}${error.line ? `:${error.line}` : ''}` : 'rule',
    code: error.code,
    message: error.message,
  }))
  for (const failure of generateFailures) logger.warn(`generate failed: ${failure.message}`)
  for (const warning of options.ruleWarnings ?? []) logger.warn(`warning: ${warning}`)

  const channel = options.channel ?? new MemoryChannel<TransferJob>(routines * 4)
  // What stops new jobs: an abort, or the start of a graceful stop.
  const starting = anySignal(options.signal, options.drain)
  const generated = generateJobs(options.rules, {
    listTags: (registry, repository, signal) => listTags(clients.get(registry, repository).client, repository, {signal}),
    listers: routines,
    signal: starting,
    tagFilter: options.tagFilter,
  })

  let jobs = 0
  const produce = async () => {
    try {
      for await (const item of generated as AsyncIterable<Generated>) {
        if (item.kind === 'job') {
          jobs++
          await channel.push(item.job, {signal: starting})
        } else {
          const failure = {rule: item.rule, code: item.error.code, message: item.error.message}
          generateFailures.push(failure)
          logger.warn(`generate failed: ${failure.message}`)
        }
      }
    } catch (error) {
      if (!starting?.aborted) {
        generateFailures.push({rule: '*', code: errorCode(error), message: `generating jobs stopped: ${describeError(error)}`})
      }
    } finally {
      channel.close()
    }
  }

  const consume = runRoutines<TransferJob, JobResult>(channel, {
    routines,
    retry: options.retry ?? 2,
    signal: options.signal,
    drain: options.drain,
    retryBaseMs: options.retryBaseMs,
    work: async (job, attempt) => {
      const release = await options.exclusive?.(job)
      const begun = Date.now()
      const outcome = await copyImage(job, context).finally(() => release?.())
      return {
        ...identify(job),
        status: outcome.status,
        ...(outcome.reason ? {reason: outcome.reason} : {}),
        digest: outcome.digest,
        bytes: outcome.bytes,
        blobs: outcome.blobs,
        attempts: attempt,
        durationMs: Date.now() - begun,
      }
    },
    failed: (job, error, attempts) => ({
      ...identify(job),
      status: 'failed',
      bytes: 0,
      blobs: {uploaded: 0, mounted: 0, existing: 0},
      attempts,
      durationMs: 0,
      error: {code: errorCode(error), message: redactor.redact(describeError(error))},
    }),
    onResult: (result) => {
      results.push(result)
      logger.info(formatProgress(results.length, result))
      options.onResult?.(result)
    },
  })

  try {
    await Promise.all([produce(), consume])
  } finally {
    if (ownsLimiter) await limiter.stop()
  }
  if (jobs === 0 && generateFailures.length === 0) logger.warn('the rules name no images: nothing to copy')
  const summary = summarize(results, generateFailures, {requests: limiter.started - requestsBefore, durationMs: Date.now() - started})
  return {results, generateFailures, summary}
}

/** One call per repository, shared by concurrent callers; a failure is not remembered, so a retry tries again. */
function once(prepare: NonNullable<EngineOptions['prepareDestination']>): NonNullable<CopyContext['prepare']> {
  const done = new Map<string, Promise<void>>()
  return (registry, repository, signal) => {
    const key = `${registry}/${repository}`
    let pending = done.get(key)
    if (!pending) {
      pending = prepare(registry, repository, signal)
      done.set(key, pending)
      pending.catch(() => done.delete(key))
    }
    return pending
  }
}

function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined)
  return present.length <= 1 ? present[0] : AbortSignal.any(present)
}

function identify(job: TransferJob): Pick<JobResult, 'source' | 'destination' | 'rule'> {
  return {source: describeLocation(job.source), destination: describeLocation(job.destination), rule: job.rule}
}

