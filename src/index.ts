/**
 * ferry's public library API. The commands import the modules behind it directly, so that a run
 * loads only what it uses (the fleet's Redis client, the standing mirror's server, tar).
 */
import {loadTransferInputs} from './inputs.js'
import {runTransfer, type EngineOptions} from './engine/run.js'

export {transfer, verify, type TransferOptions, type VerifyOptions} from './from-files.js'
export {diff} from './from-files.js'
export type {LockDiff} from './engine/lock-diff.js'
export type {Lock, LockEntry, LockChange} from './lock.js'
export type {LockOptions} from './lock-files.js'
export {runTransfer, loadTransferInputs}
export {formatVerifyReport} from './verify.js'
export type {EngineOptions}
export type {TransferReport} from './report/summary.js'
export type {InputFiles, TransferInputs} from './inputs.js'
export type {JobResult, GenerateFailure, TransferSummary} from './report/summary.js'
export type {TransferJob} from './pipeline/job.js'
export type {ImageReference} from './reference.js'
/** @deprecated Use ImageReference: the one image reference type (kept for library users). */
export type ImageLocation = import('./reference.js').ImageReference
export type {Rule} from './config/rules.js'
export type {RuleSelection} from './config/rule-selection.js'
export type {TagSelection} from './select/tags.js'
export type {Platform} from './select/platforms.js'
export type {CredentialStore} from './config/security.js'
export type {Channel} from './pipeline/channel.js'
export type {RequestLimiter} from './registry/limiter.js'
export type {Logger} from './report/logger.js'
export {MemoryChannel} from './pipeline/channel.js'
export {createLimiter} from './registry/limiter.js'
export {createLogger} from './report/logger.js'
export {FerryError, ConfigError, RegistryError} from './errors.js'
export {parseReference, formatReference} from './reference.js'
export {formatReport} from './report/summary.js'
export type {EngineEvent} from './report/events.js'
export {buildRunReport, type RunReport, type ReportJob} from './report/run-report.js'
export {renderRunReport, writeRunReport} from './report/write-report.js'
export {startService, type Service, type ServiceOptions, type ServiceOutcome} from './serve/service.js'
export {runnerSyncJob, type SyncJob, type RunHooks} from './serve/sync-job.js'
export {transferSyncJob} from './from-files.js'
export {save, load, backup, type SaveOptions, type LoadOptions, type BackupOptions} from './offline-files.js'
