/**
 * `ferry backup`: every repository and tag of a registry (or of one namespace of it), through
 * the catalog, into one layout, with backup.json listing what was saved. `ferry load` restores it.
 */
import type {CredentialStore} from '../config/security.js'
import {ConfigError, FerryError} from '../errors.js'
import {ImageLayout, LAYOUT_REGISTRY, layoutEndpoints} from '../layout/layout.js'
import type {RuleItem} from '../pipeline/generate.js'
import {registryProvider} from '../providers/registry.js'
import type {SourceProvider} from '../providers/provider.js'
import {parseRegistryHost, quote, repositoryPathProblem} from '../reference.js'
import {silentLogger} from '../report/logger.js'
import {sessionOptions} from '../engine/options.js'
import {runRules} from '../engine/run.js'
import {withSession} from '../engine/session.js'
import type {TransferReport} from '../report/summary.js'
import {writeBackupManifest} from './backup-manifest.js'
import type {OutputTarget} from './output.js'
import {finishArchive, type OfflineSettings} from './save.js'

/** A backup into a layout; the caller parses --source and --output and reads the security file (offline-files.ts). */
export interface BackupLayoutOptions extends OfflineSettings {
  /** HOST or HOST/namespace, as given: backup.json records it. */
  source: string
  /** `source` parsed (`parseBackupSource`). */
  location: {registry: string; namespace?: string}
  /** Where the layout goes (`outputTarget`). */
  target: OutputTarget
  credentials: CredentialStore
}

/** `HOST[/namespace]` → its parts, with a one-line error for either. Pure. */
export function parseBackupSource(text: string): {registry: string; namespace?: string} {
  const trimmed = text
    .trim()
    .replace(/^https?:\/\//, '')
    .replace(/\/+$/, '')
  const slash = trimmed.indexOf('/')
  const host = slash < 0 ? trimmed : trimmed.slice(0, slash)
  const namespace = slash < 0 ? undefined : trimmed.slice(slash + 1)
  let registry: string
  try {
    registry = parseRegistryHost(host)
  } catch (error) {
    throw new ConfigError(`--source ${quote(text)}: ${(error as Error).message}`)
  }
  if (namespace !== undefined) {
    const wrong = repositoryPathProblem(namespace)
    if (wrong) throw new ConfigError(`--source ${quote(text)}: namespace ${wrong}`)
    return {registry, namespace}
  }
  return {registry}
}

/**
 * One rule per repository the catalog lists; every tag of it, saved under `registry/repository`.
 * The run's signal reaches the catalog requests: a stop must not wait for a listing to end.
 */
export async function* backupRules(from: SourceProvider, signal?: AbortSignal): AsyncGenerator<RuleItem> {
  for await (const found of from.repositories(signal)) {
    if (FerryError.is(found)) {
      yield {rule: `catalog of ${from.registry}`, refused: found}
      continue
    }
    yield {
      text: `${from.registry}/${found.repository}`,
      source: {registry: from.registry, repository: found.repository},
      destination: {registry: LAYOUT_REGISTRY, repository: `${from.registry}/${found.repository}`},
    }
  }
}

export async function backupLayout(options: BackupLayoutOptions): Promise<TransferReport> {
  const {location: source, target, credentials} = options
  const layout = await ImageLayout.forWriting(target.dir)
  // The catalog is listed through the session's limiter: --qps bounds the listing and the copies together.
  return withSession(sessionOptions({...options, credentials, endpoints: layoutEndpoints(layout, 'destination')}), async (session) => {
    const from = await registryProvider.source!({
      settings: {registry: source.registry, namespace: source.namespace},
      secrets: {},
      credentials,
      limiter: session.limiter,
      env: process.env,
      logger: options.logger,
    })
    const report = await runRules(session, {rules: backupRules(from, options.signal)})
    const prefix = `${source.registry}/${source.namespace ? `${source.namespace}/` : ''}`
    await writeBackupManifest(layout, {source: options.source, prefix})
    await finishArchive(target, report, options.logger ?? silentLogger)
    return report
  })
}
