import {pipeline} from 'node:stream'

import {FerryError, RegistryError} from '../errors.js'
import type {TransferJob} from '../pipeline/job.js'
import {networkError} from '../registry/client.js'
import {blobExists, cancelUpload, mountBlob, openBlob, putBlob, putBlobChunked, startUpload} from '../registry/blobs.js'
import {DigestVerifier} from '../registry/digest-verifier.js'
import {getManifest, headManifest, putManifest, type FetchedManifest} from '../registry/manifests.js'
import {isForeignLayer, parseManifest, type Descriptor} from '../registry/media-types.js'
import type {BlobFlights, BlobHomes} from './blob-flight.js'
import type {ClientPool, PooledClient} from './clients.js'
import {mapLimit} from './map-limit.js'
import {backoffDelay, sleep} from '../retry.js'

export interface CopyContext {
  clients: ClientPool
  flights: BlobFlights
  homes: BlobHomes
  /** Upload in PATCH chunks of this many bytes instead of one streamed PUT. */
  chunkSize?: number
  /** Blobs of one image copied at once. */
  blobConcurrency?: number
  signal?: AbortSignal
  /** False: an existing destination tag is never moved to another digest (the job is skipped). */
  overwriteTags?: boolean
  /** Makes the destination repository exist where a registry needs that before a push. */
  prepare?: (registry: string, repository: string, signal?: AbortSignal) => Promise<void>
}

export interface CopyOutcome {
  status: 'copied' | 'skipped'
  /** Why a job was skipped: the same digest is there, or the tag exists and may not be moved. */
  reason?: 'same digest' | 'tag exists'
  /** Digest of the top manifest. */
  digest: string
  /** Blob bytes uploaded to the destination by this job. */
  bytes: number
  blobs: {uploaded: number; mounted: number; existing: number}
  manifests: number
}

/** Tries of one blob upload before the job fails (and the pipeline may retry the job). */
const BLOB_ATTEMPTS = 3

/** Used when a registry refuses a single streamed PUT as too large. */
const FALLBACK_CHUNK_SIZE = 16 * 1024 * 1024

interface Side {
  pooled: PooledClient
  repository: string
}

/**
 * Copies one image. The order is the safety property: every blob, then every child manifest
 * (pushed by digest), is present at the destination before the manifest that references it is
 * pushed, and the top manifest goes last. A failure at any point leaves no manifest naming a
 * missing blob, and a re-run picks up what is already there.
 */
export async function copyImage(job: TransferJob, context: CopyContext): Promise<CopyOutcome> {
  const source: Side = {pooled: context.clients.get(job.source.registry, job.source.repository), repository: job.source.repository}
  const destination: Side = {
    pooled: context.clients.get(job.destination.registry, job.destination.repository),
    repository: job.destination.repository,
  }
  const sourceReference = job.source.digest ?? job.source.tag
  if (!sourceReference) throw new FerryError('INVALID_RULE', 'job without a source tag or digest')
  const destinationReference = job.destination.tag ?? job.destination.digest ?? job.source.digest
  if (!destinationReference) throw new FerryError('INVALID_RULE', 'job without a destination tag or digest')
  const signal = context.signal

  // One HEAD at each side decides a no-change job; nothing else is requested for it.
  const [sourceHead, destinationHead] = await Promise.all([
    job.source.digest ? {digest: job.source.digest} : headManifest(source.pooled.client, source.repository, sourceReference, {signal}),
    headManifest(destination.pooled.client, destination.repository, destinationReference, {signal, push: true}),
  ])
  const outcome: CopyOutcome = {status: 'skipped', digest: '', bytes: 0, blobs: {uploaded: 0, mounted: 0, existing: 0}, manifests: 0}
  if (sourceHead && destinationHead && sourceHead.digest === destinationHead.digest) {
    return {...outcome, digest: sourceHead.digest, reason: 'same digest'}
  }
  if (destinationHead && context.overwriteTags === false && job.destination.tag) {
    // Immutable-tag registries and mirrors under running clusters: an existing tag stays as it is.
    return {...outcome, digest: sourceHead?.digest ?? '', reason: 'tag exists'}
  }
  const manifest = await getManifest(source.pooled.client, source.repository, sourceHead?.digest ?? sourceReference, {signal})
  outcome.digest = manifest.digest
  if (destinationHead?.digest === manifest.digest) return {...outcome, reason: 'same digest'}
  if (job.destination.digest && job.destination.digest !== manifest.digest) {
    throw new FerryError('DIGEST_MISMATCH', `source manifest digest is ${manifest.digest}, not the destination digest ${job.destination.digest} the rule names`)
  }

  await context.prepare?.(job.destination.registry, job.destination.repository, signal)
  await copyReferenced(manifest, source, destination, context, outcome)
  // Stated, not left to the HTTP layer: an abandoned copy never pushes its manifest.
  if (signal?.aborted) throw new FerryError('ABORTED', `${job.destination.repository}:${destinationReference}: stopped before pushing the manifest`)
  await putManifest(destination.pooled.client, destination.repository, destinationReference, manifest, {signal})
  outcome.manifests++
  outcome.status = 'copied'
  return outcome
}

/** Everything a manifest references, children of an index first pushed by digest. */
async function copyReferenced(
  manifest: FetchedManifest,
  source: Side,
  destination: Side,
  context: CopyContext,
  outcome: CopyOutcome,
): Promise<void> {
  const what = `${source.pooled.client.registry}/${source.repository}@${manifest.digest}`
  const parsed = parseManifest(manifest.bytes, manifest.mediaType, what)
  if (parsed.kind === 'index') {
    for (const child of parsed.manifests) {
      // By digest, never to the tag: immutable-tag registries refuse a tag pushed twice, and a
      // tag must not point at one platform while the others are still on their way.
      const present = await headManifest(destination.pooled.client, destination.repository, child.digest, {signal: context.signal, push: true})
      if (present?.digest === child.digest) continue
      const childManifest = await getManifest(source.pooled.client, source.repository, child.digest, {signal: context.signal})
      await copyReferenced(childManifest, source, destination, context, outcome)
      if (context.signal?.aborted) throw new FerryError('ABORTED', `${destination.repository}@${child.digest}: stopped before pushing the manifest`)
      await putManifest(destination.pooled.client, destination.repository, child.digest, childManifest, {signal: context.signal})
      outcome.manifests++
    }
    return
  }
  const seen = new Set<string>()
  const blobs = [parsed.config, ...parsed.layers].filter((descriptor) => {
    if (isForeignLayer(descriptor) || seen.has(descriptor.digest)) return false
    seen.add(descriptor.digest)
    return true
  })
  await mapLimit(blobs, context.blobConcurrency ?? 3, async (descriptor) => {
    const how = await ensureBlob(descriptor, source, destination, context)
    outcome.blobs[how.kind]++
    outcome.bytes += how.bytes
  })
}

type BlobResult = {kind: 'uploaded' | 'mounted' | 'existing'; bytes: number}

/** Makes one blob present in the destination repository: already there, mounted, or uploaded. */
async function ensureBlob(descriptor: Descriptor, source: Side, destination: Side, context: CopyContext): Promise<BlobResult> {
  const dst = destination.pooled
  const digest = descriptor.digest
  return context.flights.exclusive(dst.client.registry, digest, async () => {
    if (await blobExists(dst.client, destination.repository, digest, {signal: context.signal})) {
      context.homes.remember(dst.key, digest, destination.repository)
      return {kind: 'existing', bytes: 0}
    }
    const sameCredentials = source.pooled.key === dst.key
    const home = context.homes.find(dst.key, digest) ?? (sameCredentials ? source.repository : undefined)
    let location: string | undefined
    if (home && home !== destination.repository) {
      try {
        const mount = await mountBlob(dst.client, destination.repository, digest, home, {signal: context.signal})
        if (mount.mounted) {
          context.homes.remember(dst.key, digest, destination.repository)
          return {kind: 'mounted', bytes: 0}
        }
        location = mount.location
      } catch (error) {
        if (FerryError.is(error) && error.code === 'ABORTED') throw error
        // A registry that refuses mounts (or lost the home repository) still takes an upload.
      }
    }
    let chunkSize = context.chunkSize
    let bytes: number
    for (let attempt = 1; ; attempt++) {
      try {
        bytes = await uploadBlob(descriptor, source, destination, location, chunkSize, context)
        break
      } catch (error) {
        location = undefined // the session died with the failed upload
        if (error instanceof RegistryError && error.status === 413 && !chunkSize) {
          chunkSize = FALLBACK_CHUNK_SIZE
          continue
        }
        // A reset or an expired token in the middle of one layer costs that layer, not the whole job.
        if (!FerryError.is(error) || !error.retryable || attempt >= BLOB_ATTEMPTS || context.signal?.aborted) throw error
        await sleep(Math.max(0, backoffDelay(attempt, {baseMs: 200, retryAfterMs: (error as RegistryError).retryAfterMs})), context.signal)
      }
    }
    context.homes.remember(dst.key, digest, destination.repository)
    return {kind: 'uploaded', bytes}
  })
}

/**
 * Streams a blob from source to destination through a digest verifier: no disk, no whole layer
 * in memory. A wrong byte fails the stream before its last chunk is released, so the upload
 * cannot complete and nothing corrupt is committed; the upload session is then cancelled.
 */
async function uploadBlob(
  descriptor: Descriptor,
  source: Side,
  destination: Side,
  location: string | undefined,
  chunkSize: number | undefined,
  context: CopyContext,
): Promise<number> {
  const dst = destination.pooled.client
  const what = `blob ${descriptor.digest} of ${source.pooled.client.registry}/${source.repository}`
  const session = location ?? (await startUpload(dst, destination.repository, {signal: context.signal}))
  const local = new AbortController()
  const signal = context.signal ? AbortSignal.any([context.signal, local.signal]) : local.signal
  let streamError: unknown
  try {
    const body = await openBlob(source.pooled.client, source.repository, descriptor.digest, {signal})
    const verifier = new DigestVerifier(descriptor, what)
    const streamFailed = new Promise<never>((_, reject) => {
      pipeline(body, verifier, (error) => {
        // When the upload failed first, its end of the pipeline (or the abort below) comes back
        // here as an error: an echo of that failure, which must not replace it.
        if (!error || local.signal.aborted || consumerGone(error)) return
        // A socket error from the source (reset, premature close) is a network failure like any
        // other: retryable, with a code, instead of an unclassified error reported as INTERNAL.
        error = FerryError.is(error) ? error : networkError(error, `GET ${what}`, context.signal)
        streamError = error
        local.abort(error)
        reject(error)
      })
    })
    streamFailed.catch(() => undefined)
    const upload = chunkSize
      ? putBlobChunked(dst, destination.repository, session, descriptor, verifier, chunkSize, {signal})
      : putBlob(dst, destination.repository, session, descriptor, verifier, {signal})
    await Promise.race([upload, streamFailed])
    return verifier.bytes
  } catch (error) {
    local.abort()
    await cancelUpload(dst, destination.repository, session)
    // The verifier's own error (DIGEST_MISMATCH, SIZE_MISMATCH, a reset at the source) says more
    // than the aborted PUT it caused.
    throw FerryError.is(streamError) ? streamError : error
  }
}

/** The errors a stream reports when its reader went away or aborted it, rather than the source failing. */
function consumerGone(error: unknown): boolean {
  const code = (error as {code?: unknown}).code
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR' || code === 'ERR_CANCELED' || (error as Error).name === 'AbortError'
}
