import {runSignal} from '../abort.js'
import {proxySecrets} from '../registry/proxy-agents.js'
import type {CredentialStore} from '../config/security.js'
import {describeError, errorCode, type ConfigError} from '../errors.js'
import {MemoryChannel, type Channel} from '../pipeline/channel.js'
import {isRetryable, runRoutines} from '../pipeline/consume.js'
import {generateJobs, type Generated, type RuleItem} from '../pipeline/generate.js'
import {RuleProgress} from '../pipeline/rule-progress.js'
import {describeLocation, destinationsOf, type ImageLocation, type TransferJob} from '../pipeline/job.js'
import {listRepositories, listTags} from '../registry/catalog.js'
import type {RegistryObserver} from '../registry/client.js'
import {createLimiter, type RequestLimiter} from '../registry/limiter.js'
import type {EngineEvent} from '../report/events.js'
import {Redactor, redactingLogger, silentLogger, type Logger} from '../report/logger.js'
import {formatProgress, summarize, type GenerateFailure, type JobResult, type TransferReport} from '../report/summary.js'
import {ByteRate} from './byte-rate.js'
import {BlobFlights, BlobHomes, type FlightLock} from './blob-flight.js'
import {ClientPool} from './clients.js'
import {copyImage, type CopyContext, type CopyEvent} from './copy-image.js'
import type {EndpointResolver} from './endpoints.js'
import {registryEndpoints} from './registry-endpoints.js'
import {readOnlyEndpoints} from './read-only.js'
import {verifyImage} from './verify-image.js'
import type {Platform} from '../select/platforms.js'
import {compileSelection, type TagSelection} from '../select/tags.js'

export interface EngineOptions {
  /** Rules, or a stream of them (a provider enumerating a whole registry, with refusals of what it listed wrong). */
  rules: Iterable<RuleItem> | AsyncIterable<RuleItem>
  /**
   * The rules (a provider's stream) send different source repositories to different destination
   * repositories, so none can clash and jobs start as rules arrive; otherwise the rules are read
   * in full first and clashing destinations are refused (pipeline/clash.ts).
   */
  distinctDestinations?: boolean
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
  /** --semver/--latest (and include/exclude, for library callers), applied after tagFilter and before a rule's own. */
  tagSelection?: TagSelection
  /** --platform: copy only these children of a multi-platform index, as a new index; a rule's `platform` wins. */
  platforms?: Platform[]
  /** --deep: a tag at the same digest has its child manifests and blobs checked and repaired. */
  deep?: boolean
  /** --dryRun: plan every job (status 'planned' or 'skipped') and write nothing anywhere. */
  dryRun?: boolean
  /** `ferry verify`: check every job's destination (status 'verified', or 'failed' with `missing`), write nothing. */
  verify?: boolean
  credentials: CredentialStore
  /** Jobs copied at once (and tag listings at once). */
  routines?: number
  /** Attempts after the first for a failed job. */
  retry?: number
  /** Requests per second to all registries together; unlimited when absent. */
  qps?: number
  /** Upload blobs in PATCH chunks of this many bytes. */
  chunkSize?: number
  /** Blob bytes per second for the whole run, over all streams (--limitRate). */
  bytesPerSecond?: number
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
  /** Replaces the in-process blob upload lock, e.g. with one shared by a fleet. */
  flights?: FlightLock
  onResult?: (result: JobResult) => void
  /**
   * Makes a destination repository ready before the first push to it (a cloud registry's
   * namespace or repository that must exist first). Called once per repository per run.
   */
  prepareDestination?: (registry: string, repository: string, signal?: AbortSignal) => Promise<void>
  /** Base delay between job attempts (tests shorten it). */
  retryBaseMs?: number
  /**
   * Where jobs read and write: given the registry resolver, returns the one to use (save, load
   * and backup put an OCI layout on one side).
   */
  endpoints?: (registries: EndpointResolver) => EndpointResolver
}

// Defined with the other report types (report/ knows nothing of the engine); exported here too for callers.
export type {TransferReport}

/**
 * The engine: rules → generator → bounded channel → routines copying images. Returns every job's
 * result; never throws for a job's failure (those are results), only for misuse.
 */
export async function runTransfer(options: EngineOptions): Promise<TransferReport> {
  const started = Date.now()
  const routines = Math.max(1, options.routines ?? 5)
  // Registries can echo what they were sent; nothing a credential store holds leaves the engine.
  const redactor = new Redactor()
  for (const secret of [...options.credentials.secrets(), ...proxySecrets()]) redactor.add(secret)
  const logger = redactingLogger(options.logger ?? silentLogger, redactor)
  const emit = (event: EngineEvent) => logger.event?.(event)
  const redactedError = (error: unknown) => ({code: errorCode(error), message: redactor.redact(describeError(error))})
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
  const readOnly = options.dryRun ? 'dry run' : options.verify ? 'verify' : undefined
  const registries = registryEndpoints(clients, {readOnly: readOnly !== undefined})
  const resolver = options.endpoints ? options.endpoints(registries) : registries
  const runAbort = runSignal(options.signal)
  const context: CopyContext = {
    endpoints: readOnly ? readOnlyEndpoints(resolver, readOnly) : resolver,
    platforms: options.platforms,
    deep: options.deep,
    dryRun: options.dryRun,
    flights: options.flights ?? new BlobFlights(),
    homes: new BlobHomes(),
    chunkSize: options.chunkSize,
    ...(options.bytesPerSecond ? {byteRate: new ByteRate(options.bytesPerSecond)} : {}),
    overwriteTags: options.overwriteTags ?? true,
    signal: runAbort,
    prepare: options.prepareDestination ? once(options.prepareDestination) : undefined,
  }
  const results: JobResult[] = []
  const generateFailures: GenerateFailure[] = (options.ruleErrors ?? []).map((error) => ({
    rule: error.file ? `${error.file}${error.line ? `:${error.line}` : ''}` : 'rule',
    code: error.code,
    message: redactor.redact(error.message),
  }))
  for (const failure of generateFailures) logger.warn(`generate failed: ${failure.message}`)
  for (const warning of options.ruleWarnings ?? []) logger.warn(`warning: ${warning}`)

  const channel = options.channel ?? new MemoryChannel<TransferJob>(routines * 4)
  // What stops new jobs: an abort, or the start of a graceful stop.
  const starting = runSignal(options.signal, options.drain)
  const progress = new RuleProgress()
  const generated = generateJobs(progress.track(options.rules, starting), {
    listTags: (registry, repository, signal) => listTags(clients.get(registry, repository).client, repository, {signal}),
    listers: routines,
    signal: starting,
    tagFilter: options.tagFilter,
    selector: compileSelection(options.tagSelection),
    listRepositories: (registry, prefix, signal) => listRepositories(clients.get(registry, prefix).client, {signal}),
    onListed: (rules) => progress.listed(rules),
    distinctDestinations: options.distinctDestinations,
  })

  let jobs = 0
  let listedAll = false
  const produce = async () => {
    try {
      for await (const item of generated as AsyncIterable<Generated>) {
        if (item.kind === 'job') {
          // One result per destination: a several-destination job counts as that many.
          for (const destination of destinationsOf(item.job)) {
            jobs++
            progress.queued(item.job.rule)
            emit({type: 'job-queued', ...references(item.job, destination)})
          }
          await channel.push(item.job, {signal: starting})
        } else {
          const failure = {rule: item.rule, code: item.error.code, message: redactor.redact(item.error.message)}
          generateFailures.push(failure)
          logger.warn(`generate failed: ${failure.message}`)
        }
      }
      // The generator also ends early, without an error, when the listing is stopped: the rules say whether it did.
      listedAll = progress.listedAll
    } catch (error) {
      if (!starting?.aborted) {
        generateFailures.push({rule: '*', code: errorCode(error), message: `generating jobs stopped: ${describeError(error)}`})
      }
    } finally {
      channel.close()
      emit({type: 'jobs-known', jobs})
    }
  }

  // A job's first attempt, so a retried or failed job's report spans all of its attempts.
  const firstStarted = new Map<TransferJob, number>()
  const jobEvents = (job: TransferJob) => {
    const ids = references(job, job.destination)
    return (event: CopyEvent) => {
      if (event.type === 'blob-retry') {
        const {error, ...rest} = event
        emit({...rest, type: 'retry', what: 'blob', ...ids, error: redactedError(error)})
      } else if (event.type === 'blob') emit({...event, ...ids})
      else emit(event)
    }
  }
  const span = (job: TransferJob) => {
    const finished = Date.now()
    const started = firstStarted.get(job) ?? finished
    return {startedAt: new Date(started).toISOString(), finishedAt: new Date(finished).toISOString()}
  }
  // Destinations of a several-destination job that are done while others are retried.
  const settled = new WeakMap<TransferJob, JobResult[]>()
  const retry = options.retry ?? 2
  const failedResult = (job: TransferJob, destination: ImageLocation, error: unknown, attempts: number): JobResult => ({
    ...identify(job, destination),
    status: 'failed',
    bytes: 0,
    blobs: {uploaded: 0, mounted: 0, existing: 0},
    attempts,
    durationMs: 0,
    error: redactedError(error),
    ...span(job),
  })
  const finish = (job: TransferJob, results: JobResult[]) => {
    firstStarted.delete(job)
    return [...(settled.get(job) ?? []), ...results]
  }

  const consume = runRoutines<TransferJob, JobResult[]>(channel, {
    routines,
    retry,
    signal: runAbort,
    drain: options.drain,
    retryBaseMs: options.retryBaseMs,
    work: async (job, attempt): Promise<JobResult[]> => {
      const begun = Date.now()
      if (!firstStarted.has(job)) firstStarted.set(job, begun)
      if (options.verify) {
        // Each destination of the job on its own: verification reads, and reads nothing twice anyway.
        const checks = await Promise.all(
          destinationsOf(job).map(async (destination) => ({destination, checked: await verifyImage({...job, destination, extraDestinations: undefined}, context)})),
        )
        return finish(
          job,
          checks.map(({destination, checked}) => ({
            ...identify(job, destination),
            status: checked.leftOut ? 'skipped' : checked.missing.length > 0 ? 'failed' : 'verified',
            ...(checked.leftOut ? {reason: 'platform not selected' as const, note: checked.leftOut} : {}),
            digest: checked.digest,
            ...(checked.destinationDigest ? {destinationDigest: checked.destinationDigest} : {}),
            ...(checked.missing.length > 0
              ? {missing: checked.missing, error: {code: 'INCOMPLETE', message: redactor.redact(checked.missing.join('; '))}}
              : {}),
            bytes: 0,
            blobs: {uploaded: 0, mounted: 0, existing: 0},
            attempts: attempt,
            durationMs: Date.now() - begun,
            ...span(job),
          })),
        )
      }
      const release = await options.exclusive?.(job)
      // Per-chunk byte events cost a call each: only made when someone listens.
      const outcomes = await copyImage(job, logger.event ? {...context, onEvent: jobEvents(job)} : context).finally(() => release?.())
      const durationMs = Date.now() - begun
      const destinations = destinationsOf(job)
      const results: JobResult[] = destinations.map((destination, index) => {
        const outcome = outcomes[index]!
        if (outcome.status === 'failed') return failedResult(job, destination, outcome.error, attempt)
        return {
          ...identify(job, destination),
          status: outcome.status,
          ...(outcome.reason ? {reason: outcome.reason} : {}),
          digest: outcome.digest,
          ...(outcome.destinationDigest ? {destinationDigest: outcome.destinationDigest} : {}),
          ...(outcome.note ? {note: outcome.note} : {}),
          bytes: outcome.bytes,
          blobs: outcome.blobs,
          attempts: attempt,
          durationMs,
          ...span(job),
        }
      })
      const failedIndexes = outcomes.flatMap((outcome, index) => (outcome.status === 'failed' ? [index] : []))
      const firstError = outcomes[failedIndexes[0] ?? -1]?.error
      if (failedIndexes.length > 0 && attempt <= retry && isRetryable(firstError)) {
        // Keep what is done; the next attempt of this job goes to the failed destinations only.
        settled.set(job, [...(settled.get(job) ?? []), ...results.filter((result) => result.status !== 'failed')])
        const [first, ...rest] = failedIndexes.map((index) => destinations[index]!)
        job.destination = first!
        job.extraDestinations = rest.length > 0 ? rest : undefined
        throw firstError
      }
      return finish(job, results)
    },
    failed: (job, error, attempts) => finish(job, destinationsOf(job).map((destination) => failedResult(job, destination, error, attempts))),
    onRetry: (job, error, attempt, delayMs) => emit({type: 'retry', what: 'job', ...references(job, job.destination), attempt, delayMs, error: redactedError(error)}),
    onResult: (batch) => {
      for (const result of batch) {
        results.push(result)
        progress.finished(result.rule)
        // The event first: a live display then knows the next line is this job's.
        emit({type: 'job-finished', index: results.length, result})
        logger.info(formatProgress(results.length, result))
        options.onResult?.(result)
      }
    },
  })

  try {
    await Promise.all([produce(), consume])
  } finally {
    if (ownsLimiter) await limiter.stop()
  }
  const finished = Date.now()
  const interrupted = !listedAll || results.length < jobs
  // A queue's jobs come from elsewhere: no local rules is not a mistake there; nor is a stop before any was listed.
  if (jobs === 0 && generateFailures.length === 0 && !options.channel && !interrupted) logger.warn('the rules name no images: nothing to copy')
  const unfinishedRules = progress.unfinished()
  const summary = summarize(results, generateFailures, {
    requests: limiter.started - requestsBefore,
    durationMs: finished - started,
    dryRun: options.dryRun,
    interrupted,
  })
  return {
    results,
    generateFailures,
    summary,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    interrupted,
    unfinishedRules,
    allRulesRead: progress.allRead,
  }
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

function identify(job: TransferJob, destination: ImageLocation): Pick<JobResult, 'source' | 'destination' | 'rule'> {
  return {source: describeLocation(job.source), destination: describeLocation(destination), rule: job.rule}
}

function references(job: TransferJob, destination: ImageLocation): {source: string; destination: string} {
  return {source: describeLocation(job.source), destination: describeLocation(destination)}
}

