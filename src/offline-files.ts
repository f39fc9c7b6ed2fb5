/**
 * `ferry save`, `load` and `backup` for callers that hold file paths, not values: the commands
 * and the library's `save()`, `load()` and `backup()`. The flags are checked and the rule and
 * security files read here, in that order, and offline/ is handed what they say; nothing in
 * offline/ reads a rule or security file. Apart from from-files.ts so that `ferry transfer`
 * does not load what a layout needs (tar).
 */
import {loadRuleFile} from './config/rules.js'
import {anonymousStore, loadSecurityFile, type CredentialStore} from './config/security.js'
import {ConfigError} from './errors.js'
import {loadTransferInputs, type TransferInputs} from './inputs.js'
import type {Compression} from './layout/archive.js'
import {backupLayout, parseBackupSource} from './offline/backup.js'
import {loadLayout, registryDestinations, ruleDestinations, type Destinations} from './offline/load.js'
import {checkLockTarget, lockAfterRun, lockInputs, readLockFile, warnUnusedEntries, writeLockFile, type LockOptions} from './lock-files.js'
import {savedResult} from './offline/layout-lock.js'
import {outputTarget} from './offline/output.js'
import type {Plan} from './offline/plan.js'
import {IGNORED_DESTINATION, planSaveLayout, saveLayout, type OfflineSettings} from './offline/save.js'
import type {TransferReport} from './report/summary.js'
import {parsePlatforms} from './select/platforms.js'

export interface SaveOptions extends OfflineSettings, LockOptions {
  ruleFile: string
  securityFile?: string
  /** A folder, or FILE.tar (FILE.tar.gz, FILE.tar.zst). */
  output: string
  compress?: Compression
  /**
   * `os/architecture[/variant]` (each value may list several, comma-separated): of a multi-arch
   * image, one platform is saved as its plain image, several as a new index of just them.
   */
  platform?: string | readonly string[]
}

export interface LoadOptions extends OfflineSettings {
  /** --frozen: load only what the layout's ferry.lock.yaml (or `lockFile`) names, at its digests. */
  frozen?: boolean
  /** With `frozen`: this lock instead of the layout's own. */
  lockFile?: string
  /** A layout folder or a tar (plain, gzip or zstd) of one. */
  input: string
  securityFile?: string
  /** Destination registry (with `ns`), or `ruleFile`. */
  registry?: string
  ns?: string
  ruleFile?: string
  /** Names the repository of entries whose ref name is a bare tag (`skopeo copy … oci:DIR:v1`). */
  repository?: string
}

export interface BackupOptions extends OfflineSettings {
  /** HOST or HOST/namespace. */
  source: string
  securityFile?: string
  output: string
}

/** The rules' sources into one OCI image layout (offline/save.ts). */
export async function save(options: SaveOptions): Promise<TransferReport> {
  const {ruleFile, securityFile, output, compress, platform, lockFile, frozen, ...settings} = options
  const target = outputTarget(output, compress)
  const platforms = platform === undefined ? undefined : parsePlatforms(typeof platform === 'string' ? [platform] : platform)
  if (platforms?.length === 0) throw new ConfigError('--platform lists no platform')
  const chosen = platforms?.length === 1 ? {platform: platforms[0]} : platforms ? {platforms} : {}
  const {previous, frozenLock} = await lockInputs({lockFile, frozen})
  if (lockFile) await checkLockTarget(lockFile)
  const report = await saveLayout({...settings, ...(await saveInputs(options)), target, ...chosen, ...(frozenLock ? {frozenLock} : {})})
  if (frozenLock) warnUnusedEntries(frozenLock, report, settings.logger)
  // The layout holds its own lock (ferry.lock.yaml); --lock-file keeps one outside it too.
  if (lockFile && !frozen) {
    await writeLockFile(lockFile, lockAfterRun({...report, results: report.results.map(savedResult)}, previous))
    settings.logger?.info(`Lock written to ${lockFile}`)
  }
  return report
}

/** `save --dryRun`: the images the rules name (tags listed at the sources), nothing written. */
export async function planSave(options: Omit<SaveOptions, 'compress'>): Promise<Plan> {
  const {ruleFile, securityFile, output, platform, ...settings} = options
  outputTarget(output, undefined)
  return planSaveLayout({...settings, ...(await saveInputs(options))})
}

/** Every image of a layout to a registry (offline/load.ts). */
export async function load(options: LoadOptions): Promise<TransferReport> {
  const {securityFile, registry, ns, ruleFile, frozen, lockFile, ...settings} = options
  if (lockFile && !frozen)
    throw new ConfigError("load writes no lock: --lock-file names the lock --frozen loads by (default: the layout's own ferry.lock.yaml)")
  const destinations = await loadDestinations(options)
  const lock = lockFile ? await readLockFile(lockFile, {required: true}) : undefined
  const frozenLoad = frozen ? {frozen: lock ? {lock, name: lockFile} : {}} : {}
  return loadLayout({...settings, destinations, credentials: await securityStore(securityFile), ...frozenLoad})
}

/** Every repository and tag of a registry (or of one namespace of it) into one layout (offline/backup.ts). */
export async function backup(options: BackupOptions): Promise<TransferReport> {
  const {securityFile, output, ...settings} = options
  const location = parseBackupSource(options.source)
  const target = outputTarget(output, undefined)
  return backupLayout({...settings, location, target, credentials: await securityStore(securityFile)})
}

/** A save ignores every destination, so a rule may leave its own empty. */
function saveInputs(options: Pick<SaveOptions, 'ruleFile' | 'securityFile'>): Promise<TransferInputs> {
  return loadTransferInputs({ruleFile: options.ruleFile, securityFile: options.securityFile, registry: IGNORED_DESTINATION})
}

async function loadDestinations(options: Pick<LoadOptions, 'registry' | 'ns' | 'ruleFile'>): Promise<Destinations> {
  if (!options.ruleFile) return registryDestinations(options)
  if (options.registry || options.ns) throw new ConfigError('give either --registry/--ns or --ruleFile, not both')
  // Destinations are what the file says; there is no default registry for an empty one.
  return ruleDestinations(await loadRuleFile(options.ruleFile, {}))
}

function securityStore(file: string | undefined): Promise<CredentialStore> {
  return file ? loadSecurityFile(file) : Promise.resolve(anonymousStore)
}
