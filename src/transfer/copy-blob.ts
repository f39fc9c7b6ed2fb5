import {pipeline, type Readable, type Transform} from 'node:stream'

import {FerryError} from '../errors.js'
import {DigestVerifier} from '../registry/digest-verifier.js'
import type {Descriptor} from '../registry/media-types.js'
import {RESUMABLE_CHUNK, RESUMABLE_THRESHOLD} from '../registry/resumable-upload.js'
import {ResumableVerifier} from '../registry/resumable-verifier.js'
import {withRetry} from '../retry.js'
import type {Limits} from '../settings.js'
import type {BlobHomes, FlightLock} from './blob-flight.js'
import type {ByteRate} from './byte-rate.js'
import type {ImageDestination, ImageSource} from './endpoints.js'
import type {UploadJournal, UploadKey} from './upload-journal.js'

/** Tries of one blob upload before the job fails (and the pipeline may retry the job). */
const BLOB_ATTEMPTS = 3

export type CopyEvent =
  | {type: 'blob'; digest: string; outcome: 'uploaded' | 'mounted' | 'existing'; bytes: number}
  | {type: 'bytes'; bytes: number}
  | {type: 'blob-retry'; digest: string; attempt: number; delayMs: number; error: unknown}

/** What the copy of a blob runs with; the copy of an image (CopyContext) adds to it. */
export interface BlobContext extends Pick<Limits, 'chunkSize'> {
  flights: FlightLock
  homes: BlobHomes
  signal?: AbortSignal
  /** Told of each blob made present, bytes streamed and blob retries (progress, --verbose). */
  onEvent?: (event: CopyEvent) => void
  /** --limitRate (`Limits.bytesPerSecond`) as the one rate all of the run's streams share. */
  byteRate?: ByteRate
  /** Where uploads in progress are kept for a later run (resume across runs); none: not kept. */
  journal?: UploadJournal
}

export type BlobResult = {kind: 'uploaded' | 'mounted' | 'existing'; bytes: number}

/**
 * Makes one blob present in the destination repository: already there, mounted, or uploaded.
 *
 * Two locks, always taken in this order: the blob in this repository, then the blob at the
 * registry. Once the registry holds the blob somewhere, a repository checks for it and mounts it
 * under its own lock alone, so twenty repositories that share a base layer do not wait in one line
 * for each other's HEAD and mount (on a far link that line was the longest path of the run). Only
 * an upload, or a check made before any copy of the blob is known, holds the registry-wide lock:
 * one upload per blob at a time, and the jobs that waited for it mount it instead.
 */
export async function ensureBlob(descriptor: Descriptor, source: ImageSource, destination: ImageDestination, context: BlobContext): Promise<BlobResult> {
  const digest = descriptor.digest
  const home = () => context.homes.find(destination.scope, digest) ?? (source.scope === destination.scope ? source.repository : undefined)
  return context.flights.exclusive(destination.flightKey, `${digest}\u0000${destination.repository}`, async () => {
    if (home() === undefined) {
      const done = await context.flights.exclusive(destination.flightKey, digest, async () => {
        // Committed by another job while this one waited: leave the registry-wide line and mount.
        if (home() !== undefined) return undefined
        if (await isPresent(digest, destination, context)) return {kind: 'existing' as const, bytes: 0}
        return sendBlob(descriptor, source, destination, context)
      })
      if (done) return done
    }
    const placed = await presentOrMounted(digest, home()!, destination, context)
    if (placed.kind !== 'declined') return placed
    // A registry that will not mount (or lost the home): one upload at a time, as above.
    return context.flights.exclusive(destination.flightKey, digest, () => sendBlob(descriptor, source, destination, context, placed.session))
  })
}

async function isPresent(digest: string, destination: ImageDestination, context: BlobContext): Promise<boolean> {
  if (!(await destination.hasBlob(digest, context.signal))) return false
  context.homes.remember(destination.scope, digest, destination.repository)
  return true
}

/** Already in the repository, or mounted from `home`; 'declined' (with the session a declined mount opened) otherwise. */
async function presentOrMounted(
  digest: string,
  home: string,
  destination: ImageDestination,
  context: BlobContext,
): Promise<BlobResult | {kind: 'declined'; session?: string}> {
  if (context.homes.holds(destination.scope, digest, destination.repository)) return {kind: 'existing', bytes: 0}
  if (await isPresent(digest, destination, context)) return {kind: 'existing', bytes: 0}
  if (home === destination.repository || !destination.mountBlob) return {kind: 'declined'}
  try {
    const mount = await destination.mountBlob(digest, home, context.signal)
    if (!mount.mounted) return {kind: 'declined', session: mount.session}
    context.homes.remember(destination.scope, digest, destination.repository)
    return {kind: 'mounted', bytes: 0}
  } catch (error) {
    if (FerryError.is(error) && error.code === 'ABORTED') throw error
    // A registry that refuses mounts (or lost the home repository) still takes an upload.
    return {kind: 'declined'}
  }
}

/** Uploads the blob, under its registry-wide lock; `session`: one a declined mount opened. */
async function sendBlob(
  descriptor: Descriptor,
  source: ImageSource,
  destination: ImageDestination,
  context: BlobContext,
  session?: string,
): Promise<BlobResult> {
  const digest = descriptor.digest
  const resume = await resumeState(descriptor, source, destination, context)
  const bytes = await withRetry(
    // The session a declined mount opened died with a failed upload; a resumable one is gone on with.
    (attempt) =>
      uploadBlob(descriptor, source, destination, resume?.session ?? (attempt === 1 ? session : undefined), context, resume).catch(async (error: unknown) => {
        // The session holds the wrong bytes and the checkpoints hash them: the next try starts afresh.
        if (resume && isVerdict(error)) {
          resume.session = undefined
          resume.verifier.reset()
          if (resume.key) await context.journal?.remove(resume.key).catch(() => undefined)
        }
        throw error
      }),
    {
      retries: BLOB_ATTEMPTS - 1,
      backoff: {baseMs: 200},
      // A reset or an expired token in the middle of one layer costs that layer, not the whole job.
      retryable: (error) => FerryError.is(error) && error.retryable,
      signal: context.signal,
      onRetry: (error, attempt, delayMs) => context.onEvent?.({type: 'blob-retry', digest, attempt, delayMs, error}),
    },
  ).finally(() => resume?.verifier.close())

  if (resume?.key) await context.journal?.remove(resume.key).catch(() => undefined)
  context.homes.remember(destination.scope, digest, destination.repository)
  return {kind: 'uploaded', bytes}
}

/**
 * What an upload that can be resumed carries from one attempt (or run) to the next: the verifier
 * with its checkpoints, the session to go on with, the journal entry's key.
 */
interface ResumeState {
  verifier: ResumableVerifier
  chunkSize: number
  session?: string
  key?: UploadKey
}

/**
 * Blobs from RESUMABLE_THRESHOLD on (or all, with --chunkSize) go to a registry in chunks that a cut
 * does not lose; with a journal, a saved session of an earlier run is picked up.
 */
async function resumeState(descriptor: Descriptor, source: ImageSource, destination: ImageDestination, context: BlobContext): Promise<ResumeState | undefined> {
  if (destination.uploadIdentity === undefined) return undefined
  if (context.chunkSize === undefined && descriptor.size < RESUMABLE_THRESHOLD) return undefined
  const chunkSize = context.chunkSize ?? RESUMABLE_CHUNK
  const what = `blob ${descriptor.digest} of ${source.name}`
  const journal = context.journal
  if (!journal) return {verifier: await ResumableVerifier.create(descriptor, what, {interval: chunkSize}), chunkSize}
  const key: UploadKey = {registry: destination.flightKey, repository: destination.repository, digest: descriptor.digest, identity: destination.uploadIdentity}
  const saved = await journal.load(key, descriptor.size).catch(() => undefined)
  const verifier = await ResumableVerifier.create(descriptor, what, {
    interval: chunkSize,
    savable: true,
    ...(saved ? {start: {offset: saved.offset, state: saved.state}} : {}),
  })
  return {verifier, chunkSize, key, session: saved?.location}
}

/**
 * Streams a blob from source to destination through a digest verifier: no disk, no whole layer
 * in memory. A wrong byte fails the stream before its last chunk is released, so the write
 * cannot complete and nothing corrupt is committed; the destination then discards the write.
 */
async function uploadBlob(
  descriptor: Descriptor,
  source: ImageSource,
  destination: ImageDestination,
  session: string | undefined,
  context: BlobContext,
  resume?: ResumeState,
): Promise<number> {
  const what = `blob ${descriptor.digest} of ${source.name}`
  const local = new AbortController()
  const signal = context.signal ? AbortSignal.any([context.signal, local.signal]) : local.signal
  let streamError: unknown
  let failed: (error: unknown) => void = () => undefined
  const streamFailed = new Promise<never>((_, reject) => (failed = reject))
  streamFailed.catch(() => undefined)
  let sent = 0
  // Each opening's pipeline, settled once it has reported how it ended, and its source to close.
  const streams: Promise<void>[] = []
  const bodies: Readable[] = []
  const onChunk = (bytes: number) => {
    sent += bytes
    context.onEvent?.({type: 'bytes', bytes})
  }
  // The destination opens the bytes when it is ready for them, again (from the offset its
  // session holds) if it needs them twice.
  const open = async (offset = 0): Promise<Readable> => {
    const {body, checked} = await verifiedSource(descriptor, source, offset, signal, what, onChunk, resume?.verifier)
    // The cap sits after the verifier, so the held-back last chunk is still released only once the
    // digest is known to be right.
    bodies.push(body)
    const throttle = context.byteRate?.throttle()
    let settle: () => void = () => undefined
    streams.push(new Promise<void>((resolve) => (settle = resolve)))
    pipeline(throttle ? [body, checked, throttle] : [body, checked], (error) => {
      settle()
      // When the write failed first, its end of the pipeline (or the abort below) comes back
      // here as an error: an echo of that failure, which must not replace it. The verifier's
      // verdict is never an echo, even when the write noticed the broken stream first.
      if (!error || consumerGone(error) || streamError !== undefined) return
      if (local.signal.aborted && !isVerdict(error)) return
      streamError = error
      local.abort(error)
      failed(error)
    })
    return throttle ?? checked
  }
  const onProgress = resume
    ? (progress: {location: string; offset: number}) => {
        resume.session = progress.location
        // The newest savable hash state may lag the session (hashed in a worker): the next run
        // re-reads the source from its offset and sends from the session's.
        const saved = resume.verifier.savedState(progress.offset) ?? {offset: 0, state: new Uint8Array()}
        // Saved before the next chunk goes out; a journal that cannot be written costs only the resume.
        if (resume.key) return context.journal?.save(resume.key, {location: progress.location, ...saved}).catch(() => undefined)
      }
    : undefined
  let write: Promise<void> | undefined
  try {
    write = destination.writeBlob(descriptor, open, {signal, session, chunkSize: resume?.chunkSize ?? context.chunkSize, onProgress})
    await Promise.race([write, streamFailed])
    return sent
  } catch (error) {
    local.abort()
    // The destination cleans up its half-written blob (an upload session, a temporary file).
    await write?.catch(() => undefined)
    // A write that saw the broken stream before the pipeline said why must not hide the why.
    for (const body of bodies) body.destroy()
    await Promise.all(streams)
    // The source's own failure (DIGEST_MISMATCH, SIZE_MISMATCH, a reset) says more than the
    // aborted write it caused.
    throw streamError ?? error
  }
}

/**
 * The source's bytes from `offset` on, and the verifier they pass. With a resumable verifier the
 * source is read from its last checkpoint at or below `offset` (from 0 when the source cannot start
 * elsewhere), so every byte passed on is hashed in the reading that passes it. Without one (a
 * small blob, a layout or a fan-out), a fresh verifier per opening.
 */
async function verifiedSource(
  descriptor: Descriptor,
  source: ImageSource,
  offset: number,
  signal: AbortSignal,
  what: string,
  onChunk: (bytes: number) => void,
  shared?: ResumableVerifier,
): Promise<{body: Readable; checked: Transform}> {
  if (offset === 0 && !shared) return {body: await source.openBlob(descriptor, signal), checked: new DigestVerifier(descriptor, what, onChunk)}
  const verifier = shared ?? (await ResumableVerifier.create(descriptor, what, {interval: descriptor.size}))
  let from = verifier.rewind(offset)
  let body: Readable
  try {
    body = await source.openBlob(descriptor, signal, from > 0 ? {offset: from} : undefined)
  } catch (error) {
    if (!(from > 0 && FerryError.is(error) && error.code === 'RANGE_UNSUPPORTED')) throw error
    from = verifier.rewind(0)
    body = await source.openBlob(descriptor, signal)
  }
  return {body, checked: verifier.stream(offset, onChunk)}
}

/** The source's bytes checked out wrong: said by the verifier itself, whatever else failed beside it. */
function isVerdict(error: unknown): boolean {
  return FerryError.is(error) && (error.code === 'DIGEST_MISMATCH' || error.code === 'SIZE_MISMATCH')
}

/** The errors a stream reports when its reader went away or aborted it, rather than the source failing. */
function consumerGone(error: unknown): boolean {
  const code = (error as {code?: unknown}).code
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR' || code === 'ERR_CANCELED' || (error as Error).name === 'AbortError'
}
