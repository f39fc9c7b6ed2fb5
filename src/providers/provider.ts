import type {CloudSecrets} from '../config/secrets.js'
import type {CredentialStore} from '../config/security.js'
import type {RefusedName} from '../names.js'
import type {RegistryAccess} from '../registry/client.js'
import type {RequestLimiter} from '../registry/limiter.js'
import type {Logger} from '../report/logger.js'

/** A repository a source provider found; `tags` when its API lists them (else the registry is asked). */
export interface SourceRepository {
  repository: string
  tags?: string[]
  /** Tags the provider left out on purpose (a "newest N" limit), reported so nothing goes silently. */
  omittedTags?: number
}

/** Enumerates a whole source registry. Pages stream: nothing is listed in full before copying starts. */
export interface SourceProvider {
  readonly name: string
  /** Registry host[:port] the images are pulled from. */
  readonly registry: string
  /** A repository the source listed under a name that breaks the grammar arrives as its refusal. */
  repositories(signal?: AbortSignal): AsyncIterable<SourceRepository | RefusedName>
  /** Pull access (temporary tokens refreshed by the provider); absent = the security file's. */
  access?(): RegistryAccess
}

/** Makes a destination registry ready for pushes. */
export interface DestinationProvider {
  readonly name: string
  /** Registry host[:port] the images are pushed to. */
  readonly registry: string
  /** Creates what must exist before the first push to `repository` (namespace, project, repository). */
  prepare(repository: string, signal?: AbortSignal): Promise<void>
  /**
   * What the destination would refuse in this repository path (its own naming rules), as one
   * line naming it and the rule; undefined when it takes it. Asked before anything is copied.
   */
  check?(repository: string): string | undefined
  /** Push access (temporary tokens refreshed by the provider); absent = the security file's. */
  access?(): RegistryAccess
  /** --prune: removes one tag and only it (Harbor's tag API); absent = Distribution's delete by digest. */
  removeTag?(repository: string, tag: string, digest: string, signal?: AbortSignal): Promise<void>
}

/** What a provider is built from: its own settings (flags, secret file) and the run's shared parts. */
export interface ProviderContext {
  /** Settings for this side, by name (`registry`, `region`, `instance`, `namespace`, …). */
  settings: Record<string, string | undefined>
  /** Cloud API keys by provider name, from --secretFile. */
  secrets: CloudSecrets
  credentials: CredentialStore
  /** Every API and registry request of the run passes this one limiter. */
  limiter: RequestLimiter
  env: NodeJS.ProcessEnv
  /** The run's logger, for what a provider leaves out on purpose (untagged images, skipped projects). */
  logger?: Logger
}

/** A provider plugin: one module, chosen by name. */
export interface ProviderModule {
  readonly name: string
  readonly summary: string
  source?(context: ProviderContext): Promise<SourceProvider>
  destination?(context: ProviderContext): Promise<DestinationProvider>
}
