import {pipeline, type Readable} from 'node:stream'

import {FerryError} from '../errors.js'
import {DigestVerifier} from '../registry/digest-verifier.js'
import type {Descriptor} from '../registry/media-types.js'
import {withRetry} from '../retry.js'
import type {Limits} from '../settings.js'
import type {BlobHomes, FlightLock} from './blob-flight.js'
import type {ByteRate} from './byte-rate.js'
import type {ImageDestination, ImageSource} from './endpoints.js'

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
}

export type BlobResult = {kind: 'uploaded' | 'mounted' | 'existing'; bytes: number}

/** Makes one blob present in the destination repository: already there, mounted, or uploaded. */
export async function ensureBlob(descriptor: Descriptor, source: ImageSource, destination: ImageDestination, context: BlobContext): Promise<BlobResult> {
  const digest = descriptor.digest
  return context.flights.exclusive(destination.flightKey, digest, async () => {
    if (await destination.hasBlob(digest, context.signal)) {
      context.homes.remember(destination.scope, digest, destination.repository)
      return {kind: 'existing', bytes: 0}
    }
    const sameStore = source.scope === destination.scope
    const home = context.homes.find(destination.scope, digest) ?? (sameStore ? source.repository : undefined)
    let session: string | undefined
    if (home && home !== destination.repository && destination.mountBlob) {
      try {
        const mount = await destination.mountBlob(digest, home, context.signal)
        if (mount.mounted) {
          context.homes.remember(destination.scope, digest, destination.repository)
          return {kind: 'mounted', bytes: 0}
        }
        session = mount.session
      } catch (error) {
        if (FerryError.is(error) && error.code === 'ABORTED') throw error
        // A registry that refuses mounts (or lost the home repository) still takes an upload.
      }
    }
    const bytes = await withRetry(
      // The session a declined mount opened died with a failed upload.
      (attempt) => uploadBlob(descriptor, source, destination, attempt === 1 ? session : undefined, context),
      {
        retries: BLOB_ATTEMPTS - 1,
        backoff: {baseMs: 200},
        // A reset or an expired token in the middle of one layer costs that layer, not the whole job.
        retryable: (error) => FerryError.is(error) && error.retryable,
        signal: context.signal,
        onRetry: (error, attempt, delayMs) => context.onEvent?.({type: 'blob-retry', digest, attempt, delayMs, error}),
      },
    )
    context.homes.remember(destination.scope, digest, destination.repository)
    return {kind: 'uploaded', bytes}
  })
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
): Promise<number> {
  const what = `blob ${descriptor.digest} of ${source.name}`
  const local = new AbortController()
  const signal = context.signal ? AbortSignal.any([context.signal, local.signal]) : local.signal
  let streamError: unknown
  let failed: (error: unknown) => void = () => undefined
  const streamFailed = new Promise<never>((_, reject) => (failed = reject))
  streamFailed.catch(() => undefined)
  let verifier: DigestVerifier | undefined
  // The destination opens the bytes when it is ready for them, again if it needs them twice.
  const open = async (): Promise<Readable> => {
    const body = await source.openBlob(descriptor, signal)
    const onChunk = context.onEvent && ((bytes: number) => context.onEvent!({type: 'bytes', bytes}))
    const checked = new DigestVerifier(descriptor, what, onChunk)
    verifier = checked
    // The cap sits after the verifier, so the held-back last chunk is still released only once the
    // digest is known to be right.
    const throttle = context.byteRate?.throttle()
    pipeline(throttle ? [body, checked, throttle] : [body, checked], (error) => {
      // When the write failed first, its end of the pipeline (or the abort below) comes back
      // here as an error: an echo of that failure, which must not replace it.
      if (!error || local.signal.aborted || consumerGone(error)) return
      streamError = error
      local.abort(error)
      failed(error)
    })
    return throttle ?? checked
  }
  let write: Promise<void> | undefined
  try {
    write = destination.writeBlob(descriptor, open, {signal, session, chunkSize: context.chunkSize})
    await Promise.race([write, streamFailed])
    return verifier?.bytes ?? 0
  } catch (error) {
    local.abort()
    // The destination cleans up its half-written blob (an upload session, a temporary file).
    await write?.catch(() => undefined)
    // The source's own failure (DIGEST_MISMATCH, SIZE_MISMATCH, a reset) says more than the
    // aborted write it caused.
    throw streamError ?? error
  }
}

/** The errors a stream reports when its reader went away or aborted it, rather than the source failing. */
function consumerGone(error: unknown): boolean {
  const code = (error as {code?: unknown}).code
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR' || code === 'ERR_CANCELED' || (error as Error).name === 'AbortError'
}
