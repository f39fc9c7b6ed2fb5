/**
 * The way in for callers that hold input files, not values: `ferry transfer`, `verify` and
 * `schedule`, and the library's `transfer()`, `verify()` and `transferSyncJob()`. The files are
 * read here (inputs.ts) and the engine is handed what they say; nothing below this module reads a
 * rule or security file (offline-files.ts does the same for save, load and backup).
 */
import {loadSecretFile} from './config/secrets.js'
import {diffLock, type LockDiff} from './engine/lock-diff.js'
import {requestLimiter} from './engine/session.js'
import {runTransfer, type EngineOptions} from './engine/run.js'
import {loadTransferInputs, type InputFiles, type TransferInputs} from './inputs.js'
import {checkLockTarget, lockAfterRun, lockedSyncJob, lockInputs, readLockFile, warnUnusedEntries, writeLockFile, type LockOptions} from './lock-files.js'
import type {RequestLimiter} from './registry/limiter.js'
import type {TransferReport} from './report/summary.js'
import {rulesSyncJob, type SyncJob} from './serve/sync-job.js'
import type {UserSettings} from './settings.js'
import type {TriggerSpec} from './config/trigger-spec.js'
import {verifyRules} from './verify.js'

export type TransferOptions = Omit<EngineOptions, 'rules' | 'credentials' | 'ruleErrors' | 'ruleWarnings'> &
  (({rules?: undefined; credentials?: undefined} & InputFiles) | Pick<EngineOptions, 'rules' | 'credentials' | 'ruleErrors' | 'ruleWarnings'>)

/** The options of `transfer()`; dryRun and deep have no meaning here and are ignored. */
export type VerifyOptions = TransferOptions

/**
 * Copies every image the rules name. Give `ruleFile` (and `securityFile`) as the CLI does, or
 * already parsed `rules` and `credentials`. Resolves with each job's result; rejects only when the
 * inputs cannot be read at all.
 */
export async function transfer(options: TransferOptions & LockOptions): Promise<TransferReport> {
  const {lockFile, frozen, ...settings} = options
  const {previous, frozenLock} = await lockInputs({lockFile, frozen})
  if (lockFile) await checkLockTarget(lockFile)
  const report = await runTransfer(await withInputs({...settings, ...(frozenLock ? {frozenLock} : {})}))
  if (frozenLock) warnUnusedEntries(frozenLock, report, settings.logger)
  // A frozen run copies what the lock says and leaves it as it is; a dry run writes nothing anywhere.
  if (lockFile && !frozen && settings.dryRun) settings.logger?.info(`Dry run: ${lockFile} not written`)
  else if (lockFile && !frozen) {
    await writeLockFile(lockFile, lockAfterRun(report, previous))
    settings.logger?.info(`Lock written to ${lockFile}`)
  }
  return report
}

/** `ferry diff`: what moved at the sources since the lock file (engine/lock-diff.ts). */
export async function diff(options: VerifyOptions & {lockFile: string}): Promise<LockDiff> {
  const {lockFile, ...settings} = options
  const lock = (await readLockFile(lockFile, {required: true}))!
  return diffLock(await withInputs(settings), lock)
}

/** `ferry verify` (see verify.ts): resolves with one result per job; `summary.failed` counts the incomplete ones. */
export async function verify(options: VerifyOptions): Promise<TransferReport> {
  return verifyRules(await withInputs(options))
}

async function withInputs(options: TransferOptions): Promise<EngineOptions> {
  if (options.rules) return options
  return {...options, ...(await loadTransferInputs(options))}
}

/**
 * A standing job over input files: they are read again at each full run, so a changed ConfigMap
 * takes effect without a restart (serve/sync-job.ts).
 */
export function transferSyncJob(options: {
  name: string
  trigger: TriggerSpec
  files: InputFiles
  engine: UserSettings
  /** Written after each run (lock-files.ts `lockedSyncJob`). */
  lockFile?: string
}): SyncJob & {load(): Promise<void>} {
  const {files, lockFile, ...job} = options
  const standing = rulesSyncJob({...job, load: () => loadTransferInputs(files)})
  return lockFile ? lockedSyncJob(standing, lockFile) : standing
}

/**
 * Cloud registries among the destinations that ferry prepares when their keys are given (today
 * Huawei SWR): the inputs read, and the credentials and preparation to run them with; undefined
 * when no destination needs it. The limiter carries the API calls and is the run's too.
 */
export async function cloudDestinations(
  files: InputFiles,
  options: {secretFile?: string; swrRegistry?: string; qps?: number; env?: NodeJS.ProcessEnv},
): Promise<{inputs: TransferInputs; options: Pick<EngineOptions, 'credentials' | 'prepareDestination'>; limiter: RequestLimiter} | undefined> {
  const env = options.env ?? files.env ?? process.env
  const secrets = options.secretFile ? await loadSecretFile(options.secretFile, env) : {}
  const {hasSwrKeys, swrTransferOptions} = await import('./providers/swr-transfer.js')
  if (!options.swrRegistry && !hasSwrKeys(secrets, env)) return undefined
  const inputs = await loadTransferInputs(files)
  const limiter = requestLimiter({qps: options.qps})
  try {
    const prepared = swrTransferOptions(inputs, {secrets, env, limiter, registry: options.swrRegistry})
    if (!prepared) {
      await limiter.stop()
      return undefined
    }
    return {inputs, options: prepared, limiter}
  } catch (error) {
    await limiter.stop()
    throw error
  }
}
