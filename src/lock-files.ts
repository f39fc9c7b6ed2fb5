/**
 * The lock file at the edge: read before a run (--frozen, `ferry diff`, the last good digests a
 * failed job keeps), written atomically after it. The engine and the modes get the Lock as a value.
 */
import {readFile, rm, stat} from 'node:fs/promises'
import path from 'node:path'

import {replaceFileAtomically} from './atomic-file.js'
import {parseLock} from './config/lock-file.js'
import {ConfigError, describeError} from './errors.js'
import {buildLock, lockFormat, serializeLock, unusedLockEntries, type Lock} from './lock.js'
import type {Logger} from './report/logger.js'
import type {TransferReport} from './report/summary.js'
import type {SyncJob} from './serve/sync-job.js'

/** The lock options of transfer, save and diff. */
export interface LockOptions {
  /** --lock-file: written after the run (YAML, or JSON when the name ends .json); read by --frozen. */
  lockFile?: string
  /** --frozen: copy exactly the digests the lock file names. */
  frozen?: boolean
}

/** The lock at `file`; undefined when there is none yet, unless `required` (--frozen, diff): then one line. */
export async function readLockFile(file: string, options: {required: boolean; flag?: string}): Promise<Lock | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && !options.required) return undefined
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : `cannot read it (${code ?? 'error'})`
    throw new ConfigError(`${options.flag ?? '--lock-file'} ${file}: ${why}${code === 'ENOENT' ? '; write one with a run without --frozen' : ''}`)
  }
  return parseLock(text, file)
}

/** Checks the flags together and reads what they need, before anything is copied. */
export async function lockInputs(options: LockOptions): Promise<{previous?: Lock; frozenLock?: Lock}> {
  if (options.frozen && !options.lockFile) throw new ConfigError('--frozen needs --lock-file FILE: the lock whose digests it copies')
  if (!options.lockFile) return {}
  const previous = await readLockFile(options.lockFile, {required: options.frozen === true})
  return options.frozen ? {previous, frozenLock: previous} : {previous}
}

/** A lock file that could not be written is said before the run, not after it. */
export async function checkLockTarget(file: string): Promise<void> {
  const folder = path.dirname(path.resolve(file))
  const info = await stat(folder).catch(() => undefined)
  if (!info?.isDirectory()) throw new ConfigError(`--lock-file ${file}: the folder ${folder} does not exist`)
  const target = await stat(file).catch(() => undefined)
  if (target?.isDirectory()) throw new ConfigError(`--lock-file ${file} is a folder; give a file name (FILE.yaml or FILE.json)`)
}

/** Replaces `file` with `lock` so that a reader or a crash sees the old lock or the new one, never a part. */
export async function writeLockFile(file: string, lock: Lock): Promise<void> {
  const temporaryName = `.${path.basename(file)}.ferry-tmp-${process.pid}`
  // One a killed run of the same process id left would stop the exclusive create.
  await rm(path.join(path.dirname(file), temporaryName), {force: true})
  await replaceFileAtomically(file, serializeLock(lock, lockFormat(file)), {temporaryName})
}

/** How many unused entries a --frozen run names one a line; `ferry diff` names them all. */
const NAMED_ENTRIES = 20

/** After a --frozen run: the locked references it did not copy, said rather than skipped silently. */
export function warnUnusedEntries(lock: Lock, report: TransferReport, logger: Logger | undefined): void {
  const unused = unusedLockEntries(lock, report.results)
  if (unused.length === 0 || !logger) return
  logger.warn(
    `warning: ${unused.length} locked references were not among this run's jobs (gone from the source's tag list, or left out by the rules and filters); not copied:`,
  )
  for (const key of unused.slice(0, NAMED_ENTRIES)) logger.warn(`  ${key} ${lock.images[key]!.digest}`)
  if (unused.length > NAMED_ENTRIES) logger.warn(`  … and ${unused.length - NAMED_ENTRIES} more (ferry diff lists them as gone)`)
}

/**
 * The lock after a run: this run's digests, the last good one kept for each source that failed,
 * sources the run did not reach kept when it was cut short or a rule generated no jobs.
 */
export function lockAfterRun(report: TransferReport, previous: Lock | undefined, options: {keepUnseen?: boolean} = {}): Lock {
  const incomplete = report.interrupted === true || report.generateFailures.length > 0
  return buildLock(report.results, previous, {keepUnseen: options.keepUnseen === true || incomplete})
}

/**
 * A standing mirror's lock, so that which digests it held on a given day is in the lock's history:
 * written after each full run as after a one-shot run (a failed job keeps its last good entry; a
 * run cut short or a rule that failed to list keeps what it did not reach), and after each push it
 * copies (that tag's entry only). One write at a time; the lock is read once, at `load`.
 */
export function lockedSyncJob<J extends SyncJob & {load(): Promise<void>}>(job: J, file: string): J {
  let lock: Lock | undefined
  let read = false
  let writes = Promise.resolve()
  const record = (report: TransferReport, keepUnseen: boolean, logger: Logger): Promise<void> => {
    writes = writes.then(async () => {
      try {
        if (!read) lock = await readLockFile(file, {required: false})
        read = true
        const next = lockAfterRun(report, lock, {keepUnseen})
        await writeLockFile(file, next)
        lock = next
        logger.info(`Lock written to ${file}`)
      } catch (error) {
        // The mirror goes on; the next run writes the lock with this one's results lost to it only.
        logger.warn(`warning: --lock-file ${file}: not written (${describeError(error)})`)
      }
    })
    return writes
  }
  return {
    ...job,
    async load() {
      await checkLockTarget(file)
      // A lock that cannot be read stops the start, not the first run.
      lock = await readLockFile(file, {required: false})
      read = true
      await job.load()
    },
    async runAll(hooks) {
      const report = await job.runAll(hooks)
      await record(report, false, hooks.logger)
      return report
    },
    async runRules(rules, hooks) {
      const report = await job.runRules(rules, hooks)
      await record(report, true, hooks.logger)
      return report
    },
  }
}
