/**
 * --stateFile: what each standing job last synced, kept across restarts. Written whole to a
 * temporary file in the same directory, flushed to disk, then renamed over the old one, so a crash
 * at any instant leaves either the previous version or the next one, never a torn file.
 */
import {randomBytes} from 'node:crypto'
import {access, constants, readdir, readFile, unlink} from 'node:fs/promises'
import path from 'node:path'

import {ConfigError} from '../errors.js'
import {replaceFileAtomically} from '../atomic-file.js'

export interface SyncedTag {
  /** Source manifest digest last copied (or found already there). */
  digest: string
  /** ISO time of that sync. */
  syncedAt: string
}

export interface JobState {
  /** By source image (`registry/repository:tag`). */
  tags: Record<string, SyncedTag>
  lastRun?: {startedAt: string; finishedAt: string; complete: boolean}
  /** ISO time of the last run that copied everything it had to. */
  lastSuccessAt?: string
}

export interface SyncState {
  version: 1
  jobs: Record<string, JobState>
}

export function emptyState(): SyncState {
  return {version: 1, jobs: {}}
}

/** Reads the state file; a missing file is an empty state, a damaged one a ConfigError (never silently reset). */
export async function readState(file: string): Promise<SyncState> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyState()
    throw new ConfigError(`cannot read state file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, {file})
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new ConfigError('the state file is not JSON; move it away to start over (ferry then copies what is missing and reports every tag as new)', {file})
  }
  const state = parsed as Partial<SyncState>
  if (typeof state !== 'object' || state === null || state.version !== 1 || typeof state.jobs !== 'object' || state.jobs === null) {
    throw new ConfigError('not a ferry state file (version 1); move it away to start over', {file})
  }
  for (const job of Object.values(state.jobs)) if (typeof job.tags !== 'object' || job.tags === null) job.tags = {}
  return state as SyncState
}

/** Replaces the file atomically: temporary file in the same directory, fsync, rename, fsync of the directory. */
export async function writeStateAtomically(file: string, state: SyncState): Promise<void> {
  const temporaryName = `${temporaryPrefix(file)}${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await replaceFileAtomically(file, `${JSON.stringify(state, null, 1)}\n`, {temporaryName, mode: 0o600})
}

function temporaryPrefix(file: string): string {
  return `.${path.basename(file)}.`
}

/** Temporary files a killed writer left behind (one process owns a state file, so none is in use). */
export async function removeLeftovers(file: string): Promise<number> {
  const dir = path.dirname(path.resolve(file))
  const prefix = temporaryPrefix(file)
  const names = await readdir(dir).catch(() => [] as string[])
  const leftovers = names.filter((name) => name.startsWith(prefix) && name.endsWith('.tmp'))
  await Promise.all(leftovers.map((name) => unlink(path.join(dir, name)).catch(() => undefined)))
  return leftovers.length
}

/**
 * The state of one process: changed in memory, saved one write at a time in order (the last
 * change always reaches the disk last), and flushed on stop.
 */
export class StateStore {
  private writing: Promise<void> = Promise.resolve()
  private failure: unknown

  private constructor(
    readonly file: string | undefined,
    readonly state: SyncState,
  ) {}

  static async open(file: string | undefined): Promise<StateStore> {
    if (file) {
      // Found out at start, not after the first run has copied everything.
      const dir = path.dirname(path.resolve(file))
      try {
        await access(dir, constants.W_OK)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        throw new ConfigError(`the state file's directory ${code === 'ENOENT' ? 'does not exist' : `is not writable (${code})`}`, {file})
      }
      await removeLeftovers(file)
    }
    return new StateStore(file, file ? await readState(file) : emptyState())
  }

  job(name: string): JobState {
    let job = this.state.jobs[name]
    if (!job) {
      job = {tags: {}}
      this.state.jobs[name] = job
    }
    return job
  }

  /** Queues a write of the whole state as it is now; errors surface from flush(). */
  save(): Promise<void> {
    if (!this.file) return Promise.resolve()
    const file = this.file
    const snapshot = structuredClone(this.state)
    this.writing = this.writing.then(() =>
      writeStateAtomically(file, snapshot).catch((error) => {
        this.failure = error
      }),
    )
    return this.writing
  }

  /** Waits for queued writes; throws the last write error, if any. */
  async flush(): Promise<void> {
    await this.writing
    if (this.failure) {
      const error = this.failure
      this.failure = undefined
      throw error
    }
  }
}
