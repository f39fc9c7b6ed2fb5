import {loadSecretFile} from '../config/secrets.js'
import {anonymousStore, loadSecurityFile} from '../config/security.js'
import {requestLimiter} from '../engine/session.js'
import {ConfigError} from '../errors.js'
import {loadProvider} from '../providers/index.js'
import {migrate} from '../providers/migrate.js'
import type {ProviderContext} from '../providers/provider.js'
import type {Logger} from '../report/logger.js'
import {repositoryFilter} from '../select/filters.js'
import type {UserSettings} from '../settings.js'
import type {EngineOptions, TransferReport} from '../engine/run.js'

export interface MigrationRequest {
  from: string
  to: string
  fromSettings: ProviderContext['settings']
  toSettings: ProviderContext['settings']
  toNamespace?: string
  securityFile?: string
  secretFile?: string
  /** The run's settings (src/settings.ts documents each). */
  engine: UserSettings
  /** --repositories globs. */
  repositories?: string[]
  logger: Logger
  signal: AbortSignal
  /** A standing job's hooks into the engine (graceful stop, metrics, state). */
  hooks?: Pick<EngineOptions, 'drain' | 'observer' | 'onResult' | 'exclusive' | 'pullQuotas'>
}

/** Providers by name and files by path → one migration run; shared by `migrate` and `transfer --ccrToTcr`. */
export async function runMigration(request: MigrationRequest): Promise<TransferReport> {
  const [fromModule, toModule] = await Promise.all([loadProvider(request.from), loadProvider(request.to)])
  if (!fromModule.source) throw new ConfigError(`provider ${fromModule.name} cannot be a source`)
  if (!toModule.destination) throw new ConfigError(`provider ${toModule.name} cannot be a destination`)
  const credentials = request.securityFile ? await loadSecurityFile(request.securityFile) : anonymousStore
  const secrets = request.secretFile ? await loadSecretFile(request.secretFile) : {}
  // Made before the run's session: the providers' API calls and the copies share one --qps budget.
  const limiter = requestLimiter({qps: request.engine.qps})
  try {
    const base = {secrets, credentials, limiter, env: process.env, logger: request.logger}
    const [from, to] = await Promise.all([
      fromModule.source({...base, settings: request.fromSettings}),
      toModule.destination({...base, settings: request.toSettings}),
    ])
    return await migrate({
      ...request.engine,
      ...request.hooks,
      from,
      to,
      credentials,
      limiter,
      toNamespace: request.toNamespace,
      repositoryFilter: repositoryFilter(request.repositories),
      logger: request.logger,
      signal: request.signal,
    })
  } finally {
    await limiter.stop()
  }
}
