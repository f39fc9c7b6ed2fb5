/**
 * The engine's settings: one type, a sub-object per concern, from which a session is built once
 * per run. `EngineOptions` is the same settings flat, as the library's `runTransfer()` and the
 * commands have always passed them; `sessionOptions` is the one place that maps one to the other.
 * What a user chooses (selection, limits, job retry) is declared in src/settings.ts, below the
 * layers that read it, and exported from here with the rest.
 */
import type {CredentialStore} from '../config/security.js'
import type {ConfigError} from '../errors.js'
import type {Channel} from '../pipeline/channel.js'
import type {RuleItem} from '../pipeline/generate.js'
import type {TransferJob} from '../pipeline/job.js'
import type {RegistryObserver} from '../registry/client.js'
import type {RequestLimiter} from '../registry/limiter.js'
import type {PullQuotas} from '../registry/pull-quota.js'
import type {Logger} from '../report/logger.js'
import type {JobResult} from '../report/summary.js'
import type {JobRetry, Limits, Selection, UserSettings} from '../settings.js'
import type {FlightLock} from '../transfer/blob-flight.js'
import type {EndpointResolver} from '../transfer/endpoints.js'

export type {JobRetry, Limits, Selection, UserSettings}

/** Where the run tells what it does. */
export interface Output {
  logger?: Logger
  /** Told of every registry request and every wait for the rate limit (metrics). */
  observer?: RegistryObserver
  onResult?: (result: JobResult) => void
}

/** What several runs (a standing job's) or a fleet of workers share; built by them, handed in. */
export interface Shared {
  /** Replaces the run's own limiter, e.g. one shared by a standing job's runs or a fleet's Redis one. */
  limiter?: RequestLimiter
  /** Replaces the in-process blob upload lock, e.g. with one shared by a fleet. */
  flights?: FlightLock
  /**
   * Replaces the run's own pull quotas (which stop a registry's pulls when spent): a standing
   * mirror's, kept across its runs, wait for the window instead.
   */
  pullQuotas?: PullQuotas
  /**
   * Held around each attempt of a job: lets runs that share a process (a schedule and push events)
   * keep from copying the same tag at the same time. Resolves with the release function.
   */
  exclusive?: (job: TransferJob) => Promise<() => void>
  /**
   * Folder where large uploads in progress are kept, so that the next run goes on with them
   * (transfer/upload-journal.ts): --resume-dir; default FERRY_RESUME_DIR or
   * $XDG_CACHE_HOME/ferry/uploads; `false`: not kept.
   */
  resumeDir?: string | false
}

/** Removes one tag where the registry can (Harbor's tag API); replaces Distribution's delete by digest. */
export type TagRemover = (registry: string, repository: string, tag: string, digest: string, signal?: AbortSignal) => Promise<void>

/** --prune (engine/prune.ts): --max-deletes, and how a tag is removed. */
export interface PruneSettings {
  maxDeletes?: number
  removeTag?: TagRemover
}

/** `copy` writes; `dry run` plans every job and writes nothing; `verify` checks every destination. */
export type Mode = 'copy' | 'dry run' | 'verify'

export interface SessionOptions {
  credentials: CredentialStore
  mode?: Mode
  selection?: Selection
  limits?: Limits
  retry?: JobRetry
  output?: Output
  shared?: Shared
  signal?: AbortSignal
  /**
   * Graceful stop: once aborted, no new job starts (the generator stops, the routines take no more
   * jobs and retry none) while copies in flight go on; `signal` still abandons those.
   */
  drain?: AbortSignal
  /**
   * Makes a destination repository ready before the first push to it (a cloud registry's
   * namespace or repository that must exist first). Called once per repository per session.
   */
  prepareDestination?: (registry: string, repository: string, signal?: AbortSignal) => Promise<void>
  /**
   * Where jobs read and write: given the registry resolver, returns the one to use (save, load
   * and backup put an OCI layout on one side).
   */
  endpoints?: (registries: EndpointResolver) => EndpointResolver
  /** --prune: after a run's copies, delete destination tags the source no longer has (engine/prune.ts). */
  prune?: PruneSettings
}

/** What one run reads besides the settings: its rules. */
export interface RunInput {
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
  /** Replaces the in-memory channel, e.g. with a Redis queue. */
  channel?: Channel<TransferJob>
}

/** The settings flat, as `runTransfer()` takes them (the library's API since its first release). */
export interface EngineOptions extends RunInput, UserSettings, Output, Shared {
  credentials: CredentialStore
  /** `ferry verify`: check every job's destination (status 'verified', or 'failed' with `missing`), write nothing. */
  verify?: boolean
  signal?: AbortSignal
  drain?: AbortSignal
  prepareDestination?: SessionOptions['prepareDestination']
  endpoints?: SessionOptions['endpoints']
  /** With `prune`: removes one tag by the registry's own API (Harbor) instead of a delete by digest. */
  removeTag?: TagRemover
}

/** Everything a run is told but its rules: the one name for the engine's settings, flat. */
export type EngineSettings = Omit<EngineOptions, keyof RunInput>

/** Flat settings → the session's. Pure. */
export function sessionOptions(flat: EngineSettings): SessionOptions {
  return {
    credentials: flat.credentials,
    mode: flat.verify ? 'verify' : flat.dryRun ? 'dry run' : 'copy',
    selection: {
      tagFilter: flat.tagFilter,
      tagSelection: flat.tagSelection,
      platforms: flat.platforms,
      overwriteTags: flat.overwriteTags,
      deep: flat.deep,
      frozenLock: flat.frozenLock,
      includeNondistributable: flat.includeNondistributable,
      referrers: flat.referrers,
      referrerArtifactTypes: flat.referrerArtifactTypes,
    },
    limits: {
      routines: flat.routines,
      qps: flat.qps,
      bytesPerSecond: flat.bytesPerSecond,
      chunkSize: flat.chunkSize,
      idleTimeoutMs: flat.idleTimeoutMs,
      pullReserve: flat.pullReserve,
      blobConnections: flat.blobConnections,
    },
    retry: {retries: flat.retry, baseMs: flat.retryBaseMs},
    output: {logger: flat.logger, observer: flat.observer, onResult: flat.onResult},
    shared: {limiter: flat.limiter, flights: flat.flights, exclusive: flat.exclusive, pullQuotas: flat.pullQuotas, resumeDir: flat.resumeDir},
    signal: flat.signal,
    drain: flat.drain,
    prepareDestination: flat.prepareDestination,
    endpoints: flat.endpoints,
    ...(flat.prune && !flat.verify ? {prune: {maxDeletes: flat.maxDeletes, removeTag: flat.removeTag}} : {}),
  }
}
