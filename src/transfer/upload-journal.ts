/**
 * Resume across runs: for a blob upload in progress, a small file holds what a later run needs to
 * go on with it instead of sending the blob again: the upload URL, and the newest savable hash
 * state at or below the bytes the registry accepted (ResumableVerifier, hash-wasm; none yet:
 * offset 0, and the next run re-reads the source from the first byte but still sends only what
 * the session lacks). One file per
 * destination registry, repository, digest and credential identity (a file of other credentials
 * is never found), written after each accepted chunk, deleted once the blob is committed. Files
 * are 0600 in a 0700 folder: the URL carries the session's id. A file that does not parse or does
 * not match is ignored; a session that is gone is replaced by a new one (resumable-upload.ts).
 *
 * Folder: FERRY_RESUME_DIR, else $XDG_CACHE_HOME/ferry/uploads, else ~/.cache/ferry/uploads.
 */
import {createHash, randomBytes} from 'node:crypto'
import {mkdir, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {replaceFileAtomically} from '../atomic-file.js'

export interface UploadKey {
  registry: string
  repository: string
  digest: string
  /** Who uploads: a hash of the credentials' identity, never the credentials. */
  identity: string
}

export interface JournalEntry {
  location: string
  /** Bytes the hash state covers: at most what the session holds (asked again on resume). */
  offset: number
  /** Hash state after `offset` bytes; empty at 0. */
  state: Uint8Array
}

const VERSION = 1
const FILE_LIMIT = 64 * 1024

export function defaultResumeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_RESUME_DIR) return env.FERRY_RESUME_DIR
  const cache = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return path.join(cache, 'ferry', 'uploads')
}

export class UploadJournal {
  /** Writes per file, in order, so an older state never lands after a newer one. */
  private readonly writes = new Map<string, Promise<void>>()

  constructor(
    readonly folder: string,
    /** Told why a file was ignored (never its URL). */
    private readonly note?: (line: string) => void,
  ) {}

  async load(key: UploadKey, size: number): Promise<JournalEntry | undefined> {
    const file = this.fileOf(key)
    let text: string
    try {
      const bytes = await readFile(file)
      if (bytes.length > FILE_LIMIT) throw new Error('too large')
      text = bytes.toString('utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.note?.(`upload journal ${path.basename(file)}: unreadable, ignored`)
      return undefined
    }
    const entry = parseEntry(text, key, size)
    if (!entry) this.note?.(`upload journal ${path.basename(file)}: not a journal entry of this upload, ignored`)
    return entry
  }

  save(key: UploadKey, entry: JournalEntry): Promise<void> {
    const file = this.fileOf(key)
    const text = JSON.stringify({
      version: VERSION,
      registry: key.registry,
      repository: key.repository,
      digest: key.digest,
      identity: key.identity,
      location: entry.location,
      offset: entry.offset,
      state: Buffer.from(entry.state).toString('base64'),
    })
    return this.queue(file, async () => {
      await mkdir(this.folder, {recursive: true, mode: 0o700})
      await replaceFileAtomically(file, text, {temporaryName: `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`, mode: 0o600})
    })
  }

  remove(key: UploadKey): Promise<void> {
    const file = this.fileOf(key)
    return this.queue(file, () => rm(file, {force: true}))
  }

  private queue(file: string, step: () => Promise<void>): Promise<void> {
    const next = (this.writes.get(file) ?? Promise.resolve()).then(step, step)
    const settled = next.catch(() => undefined)
    this.writes.set(file, settled)
    void settled.then(() => {
      if (this.writes.get(file) === settled) this.writes.delete(file)
    })
    return next
  }

  private fileOf(key: UploadKey): string {
    const name = createHash('sha256')
      .update(JSON.stringify([key.registry, key.repository, key.digest, key.identity]))
      .digest('hex')
    return path.join(this.folder, `${name}.json`)
  }
}

/** The entry, when the text is one for exactly this upload; undefined otherwise. Pure. */
export function parseEntry(text: string, key: UploadKey, size: number): JournalEntry | undefined {
  let value: Record<string, unknown>
  try {
    value = JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const {version, registry, repository, digest, identity, location, offset, state} = value
  if (version !== VERSION || registry !== key.registry || repository !== key.repository || digest !== key.digest || identity !== key.identity) {
    return undefined
  }
  if (typeof location !== 'string' || typeof offset !== 'number' || typeof state !== 'string') return undefined
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) return undefined
  try {
    const url = new URL(location)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  } catch {
    return undefined
  }
  return {location, offset, state: new Uint8Array(Buffer.from(state, 'base64'))}
}
