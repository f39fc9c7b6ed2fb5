/**
 * One engine session per run: built once from `SessionOptions`, it owns the limiter, the client
 * pool, the redactor and the endpoints, and offers the run's three steps on their own — produce
 * jobs from rules, copy one job, consume a channel with N routines — so every command and mode is
 * a few lines over them (engine/run.ts, fleet/worker.ts, fleet/enqueue.ts, offline/plan.ts).
 */
import {runSignal} from '../abort.js'
import {describeError, errorCode} from '../errors.js'
import type {Channel} from '../pipeline/channel.js'
import {attemptJob, isRetryable, runRoutines} from '../pipeline/consume.js'
import {generateJobs, type Generated, type RuleItem, type SourceListing} from '../pipeline/generate.js'
import {destinationsOf, type TransferJob} from '../pipeline/job.js'
import {listRepositories, listTags} from '../registry/catalog.js'
import {createLimiter, type RequestLimiter} from '../registry/limiter.js'
import type {RegistryRunState} from '../registry/layers/registry-state.js'
import {proxySecrets} from '../registry/proxy-agents.js'
import {PullQuotas, type PullQuota} from '../registry/pull-quota.js'
import {RegistryStops} from '../registry/registry-stops.js'
import type {EngineEvent} from '../report/events.js'
import {Redactor, redactingLogger, silentLogger, type Logger} from '../report/logger.js'
import {copyFrozen} from './frozen.js'
import {redactingObserver} from './redacting-observer.js'
import type {JobResult} from '../report/summary.js'
import {compileSelection} from '../select/tags.js'
import {BlobFlights, BlobHomes} from '../transfer/blob-flight.js'
import {ByteRate} from '../transfer/byte-rate.js'
import {ClientPool} from '../transfer/clients.js'
import {copyImage, type CopyContext, type CopyEvent} from '../transfer/copy-image.js'
import {defaultResumeDir, UploadJournal} from '../transfer/upload-journal.js'
import type {EndpointResolver} from '../transfer/endpoints.js'
import {readOnlyEndpoints} from '../transfer/read-only.js'
import {isReferrerTag} from '../transfer/referrer-set.js'
import {registryEndpoints} from '../transfer/registry-endpoints.js'
import {RegistryReferrers} from '../transfer/registry-referrers.js'
import {verifyImage} from '../transfer/verify-image.js'
import type {Limits, Mode, Selection, SessionOptions} from './options.js'
import {copiedResult, failedResult, interruptedResult, narrowedJob, references, verifiedResult, type PrintableError, type Span} from './results.js'
import {type ImageReference} from '../reference.js'

/**
 * The one place a request limiter is made. A session makes its own unless handed one; a limiter
 * that outlives a run (a standing job's, or one that providers share with the run) is made here too.
 */
export function requestLimiter(limits: Pick<Limits, 'qps'> = {}): RequestLimiter {
  return createLimiter({qps: limits.qps})
}

/** One attempt's results, and what a retry would try again. */
interface Attempt {
  results: JobResult[]
  failure?: {error: unknown; destinations: ImageReference[]}
}

export class EngineSession {
  readonly redactor = new Redactor()
  /** The caller's logger, redacting everything the session's credentials hold. */
  readonly logger: Logger
  readonly limiter: RequestLimiter
  readonly clients: ClientPool
  /** The run's verdicts on whole registries (a spent pull limit), and every registry's pull quota. */
  readonly registries: RegistryRunState
  /** Where jobs read and write, refusing writes in a dry run and a verify. */
  readonly endpoints: EndpointResolver
  readonly mode: Mode
  readonly routines: number
  /** --prune's settings, when asked for. */
  readonly prune?: SessionOptions['prune']
  /** Told of every result the session's runs finish. */
  readonly onResult?: (result: JobResult) => void
  /** Aborted by a stop: copies in flight are abandoned. */
  readonly signal?: AbortSignal
  /** Aborted by a stop or by the start of a graceful one: no new job starts. */
  readonly starting?: AbortSignal
  private readonly ownsLimiter: boolean
  /** A limiter shared by several runs counts them all; this session's share is the difference. */
  private readonly requestsBefore: number
  private readonly context: CopyContext
  private readonly retries: number
  /** Where each registry keeps referrers, learnt once in the run; fed by the run's own tag listings. */
  private readonly referrerLookups = new RegistryReferrers()

  constructor(private readonly options: SessionOptions) {
    // Registries can echo what they were sent; nothing a credential store holds leaves the engine.
    for (const secret of [...options.credentials.secrets(), ...proxySecrets()]) this.redactor.add(secret)
    this.logger = redactingLogger(options.output?.logger ?? silentLogger, this.redactor)
    this.mode = options.mode ?? 'copy'
    this.routines = Math.max(1, options.limits?.routines ?? 5)
    this.onResult = options.output?.onResult
    this.prune = options.prune
    this.retries = options.retry?.retries ?? 2
    this.ownsLimiter = !options.shared?.limiter
    this.limiter = options.shared?.limiter ?? requestLimiter(options.limits)
    this.requestsBefore = this.limiter.started
    const observer = redactingObserver(options.output?.observer, this.redactor)
    this.registries = {
      // Said once, where the run's warnings go; each job it ends says it again as its reason.
      stops: new RegistryStops((stop) => this.logger.warn(this.redactor.redact(stop.error.message))),
      quotas: options.shared?.pullQuotas ?? new PullQuotas({whenSpent: 'stop', onChange: (quota) => observer?.onPullQuota?.(quota)}),
      reserve: options.limits?.pullReserve ?? 0,
    }
    this.clients = new ClientPool(
      (registry, repository) => {
        const access = options.credentials.lookup(registry, repository)
        return {key: access.entry ?? '', access}
      },
      {
        limiter: this.limiter,
        idleTimeoutMs: options.limits?.idleTimeoutMs,
        onSecret: (secret) => this.redactor.add(secret),
        observer,
        state: this.registries,
      },
    )
    const readOnly = this.mode === 'copy' ? undefined : this.mode
    const registries = registryEndpoints(this.clients, {
      readOnly: readOnly !== undefined,
      blobConnections: options.limits?.blobConnections,
      referrers: this.referrerLookups,
    })
    const resolver = options.endpoints ? options.endpoints(registries) : registries
    this.endpoints = readOnly ? readOnlyEndpoints(resolver, readOnly) : resolver
    this.signal = runSignal(options.signal)
    this.starting = runSignal(options.signal, options.drain)
    const selection = options.selection ?? {}
    this.context = {
      endpoints: this.endpoints,
      platforms: selection.platforms,
      deep: selection.deep,
      includeNondistributable: selection.includeNondistributable,
      referrers: selection.referrers ?? true,
      referrerArtifactTypes: selection.referrerArtifactTypes,
      dryRun: this.mode === 'dry run',
      flights: options.shared?.flights ?? new BlobFlights(),
      homes: new BlobHomes(),
      chunkSize: options.limits?.chunkSize,
      ...(this.mode === 'copy' && options.shared?.resumeDir !== false
        ? {journal: new UploadJournal(options.shared?.resumeDir ?? defaultResumeDir(), (line) => this.logger.info(line))}
        : {}),
      ...(options.limits?.bytesPerSecond ? {byteRate: new ByteRate(options.limits.bytesPerSecond)} : {}),
      overwriteTags: selection.overwriteTags ?? true,
      signal: this.signal,
      prepare: options.prepareDestination ? once(options.prepareDestination) : undefined,
    }
  }

  emit(event: EngineEvent): void {
    this.logger.event?.(event)
  }

  redactError(error: unknown): PrintableError {
    return {code: errorCode(error), message: this.redactor.redact(describeError(error))}
  }

  /** What each registry said of its pull limit in this run (a standing mirror's: since it started). */
  get pullQuotas(): PullQuota[] {
    return this.registries.quotas.snapshot()
  }

  /** Registry requests this session started. */
  get requests(): number {
    return this.limiter.started - this.requestsBefore
  }

  /**
   * Step 1: the rules' jobs as they become known, and the rules that generated none; tags and
   * catalogs are listed by up to `routines` at once. Stops when the session starts no more jobs.
   */
  jobs(
    rules: Iterable<RuleItem> | AsyncIterable<RuleItem>,
    options: {distinctDestinations?: boolean; onListed?: (rules: string[]) => void; onSourceListing?: (listing: SourceListing) => void} = {},
  ): AsyncGenerator<Generated> {
    const selection = this.options.selection ?? {}
    return generateJobs(rules, {
      listTags: (registry, repository, signal) => {
        const client = this.clients.get(registry, repository).client
        const listing = listTags(client, repository, {signal})
        return selection.referrers === false ? listing : this.referrerLookups.sharedListing(client.registry, repository, listing)
      },
      listRepositories: (registry, prefix, signal) => listRepositories(this.clients.get(registry, prefix).client, {signal}),
      listers: this.routines,
      signal: this.starting,
      tagFilter: withoutReferrerTags(selection),
      selector: compileSelection(selection.tagSelection),
      onListed: options.onListed,
      distinctDestinations: options.distinctDestinations,
      onSourceListing: options.onSourceListing && withReferrerScope(selection, options.onSourceListing),
    })
  }

  /**
   * Step 2: one job, every attempt of it, as one result per destination. Destinations that failed
   * with a retryable error are tried again on their own (a job narrowed to them); the job given
   * is never changed. Never rejects: a failure is a result.
   */
  async copy(job: TransferJob): Promise<JobResult[]> {
    const frozen = this.options.selection?.frozenLock
    if (!frozen || this.mode === 'verify') return this.copyJob(job)
    const started = new Date().toISOString()
    return copyFrozen(job, {
      lock: frozen,
      endpoints: this.endpoints,
      logger: this.logger,
      signal: this.signal,
      copy: (pinned) => this.copyJob(pinned),
      fail: (failed, error) =>
        destinationsOf(failed).map((destination) =>
          failedResult(failed, destination, this.redactError(error), 1, {startedAt: started, finishedAt: new Date().toISOString()}),
        ),
    })
  }

  private async copyJob(job: TransferJob): Promise<JobResult[]> {
    const started = Date.now()
    const span = (): Span => ({startedAt: new Date(started).toISOString(), finishedAt: new Date().toISOString()})
    // Destinations done while others are retried, and the job as the next attempt sees it.
    const settled: JobResult[] = []
    let pending = job
    const last = await attemptJob<JobResult[]>({
      retry: this.retries,
      retryBaseMs: this.options.retry?.baseMs,
      signal: this.signal,
      drain: this.options.drain,
      work: async (attempt) => {
        const {results, failure} = await this.attempt(pending, attempt, span)
        if (failure && attempt <= this.retries && isRetryable(failure.error)) {
          settled.push(...results.filter((result) => result.status !== 'failed'))
          pending = narrowedJob(pending, failure.destinations)
          throw failure.error
        }
        return results
      },
      failed: (error, attempts) => destinationsOf(pending).map((destination) => failedResult(pending, destination, this.redactError(error), attempts, span())),
      onRetry: (error, attempt, delayMs) =>
        this.emit({type: 'retry', what: 'job', ...references(pending, pending.destination), attempt, delayMs, error: this.redactError(error)}),
    })
    const results = [...settled, ...last]
    // Cut short by a stop, whatever error the cut surfaced as (an abort, a stream torn down).
    return this.signal?.aborted ? results.map(interruptedResult) : results
  }

  /** Step 3: `routines` routines taking jobs from the channel until it ends or the run stops. */
  consume(channel: Channel<TransferJob>, onResults: (results: JobResult[]) => void): Promise<void> {
    return runRoutines(channel, {
      routines: this.routines,
      signal: this.signal,
      drain: this.options.drain,
      work: async (job) => onResults(await this.copy(job)),
    })
  }

  /** Stops the limiter the session made; one it was handed is its owner's to stop. */
  async close(): Promise<void> {
    if (this.ownsLimiter) await this.limiter.stop()
  }

  /** One attempt: a result per destination; rejects when the job failed as a whole. */
  private async attempt(job: TransferJob, attempt: number, span: () => Span): Promise<Attempt> {
    const begun = Date.now()
    const destinations = destinationsOf(job)
    if (this.mode === 'verify') {
      // Each destination on its own: verification reads, and reads nothing twice anyway.
      const checks = await Promise.all(destinations.map((destination) => verifyImage({...job, destination, extraDestinations: undefined}, this.context)))
      const durationMs = Date.now() - begun
      return {
        results: checks.map((checked, index) =>
          verifiedResult(job, destinations[index]!, checked, {attempts: attempt, durationMs, span: span()}, (text) => this.redactor.redact(text)),
        ),
      }
    }
    const release = await this.options.shared?.exclusive?.(job)
    // Per-chunk byte events cost a call each: only made when someone listens.
    const context = this.logger.event ? {...this.context, onEvent: this.copyEvents(job)} : this.context
    const outcomes = await copyImage(job, context)
      .catch((error: unknown) => {
        for (const destination of destinations) this.context.homes.forget(destination.repository)
        throw error
      })
      .finally(() => release?.())
    const durationMs = Date.now() - begun
    const results = destinations.map((destination, index) => {
      const outcome = outcomes[index]!
      if (outcome.status === 'failed') return failedResult(job, destination, this.redactError(outcome.error), attempt, span())
      return copiedResult(job, destination, outcome, {attempts: attempt, durationMs, span: span()})
    })
    const failed = outcomes.flatMap((outcome, index) => (outcome.status === 'failed' ? [index] : []))
    for (const index of failed) this.context.homes.forget(destinations[index]!.repository)
    if (failed.length === 0) return {results}
    return {results, failure: {error: outcomes[failed[0]!]!.error, destinations: failed.map((index) => destinations[index]!)}}
  }

  private copyEvents(job: TransferJob): (event: CopyEvent) => void {
    const ids = references(job, job.destination)
    return (event) => {
      if (event.type === 'blob-retry') {
        const {error, ...rest} = event
        this.emit({...rest, type: 'retry', what: 'blob', ...ids, error: this.redactError(error)})
      } else if (event.type === 'blob') this.emit({...event, ...ids})
      else this.emit(event)
    }
  }
}

/** Builds a session, runs `work` with it, and closes it however `work` ends. */
export async function withSession<T>(options: SessionOptions, work: (session: EngineSession) => Promise<T>): Promise<T> {
  const session = new EngineSession(options)
  try {
    return await work(session)
  } finally {
    await session.close()
  }
}

/**
 * With referrers on, the tags of the fallback and cosign schemes travel with the image they name,
 * so a listing leaves them out (a rule that names one still copies it).
 */
function withoutReferrerTags(selection: Selection): Selection['tagFilter'] {
  if (selection.referrers === false) return selection.tagFilter
  const filter = selection.tagFilter
  return (tag) => !isReferrerTag(tag) && (filter?.(tag) ?? true)
}

/**
 * A listing's scope for prune: with referrers on, the scheme tags left out of the listing travel
 * with their images, so they are in scope wherever the rule copies (prune keeps those whose image stays).
 */
function withReferrerScope(selection: Selection, onSourceListing: (listing: SourceListing) => void): (listing: SourceListing) => void {
  if (selection.referrers === false) return onSourceListing
  return (listing) => onSourceListing({...listing, inScope: (tag) => isReferrerTag(tag) || listing.inScope(tag)})
}

/** One call per repository, shared by concurrent callers; a failure is not remembered, so a retry tries again. */
function once(prepare: NonNullable<SessionOptions['prepareDestination']>): NonNullable<CopyContext['prepare']> {
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
