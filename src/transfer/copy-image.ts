import {pipeline} from 'node:stream'

import {FerryError, RegistryError} from '../errors.js'
import type {TransferJob} from '../pipeline/job.js'
import {networkError} from '../registry/client.js'
import {DigestVerifier} from '../registry/digest-verifier.js'
import type {FetchedManifest} from '../registry/manifests.js'
import {isForeignLayer, parseManifest, type Descriptor} from '../registry/media-types.js'
import type {BlobFlights, BlobHomes} from './blob-flight.js'
import type {EndpointResolver, ImageDestination, ImageSource} from './endpoints.js'
import type {Platform} from '../select/platforms.js'
import {choosePlatforms} from './platform-select.js'
import {mapLimit} from './map-limit.js'
import {backoffDelay, sleep} from '../retry.js'

export interface CopyContext {
  endpoints: EndpointResolver
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
  /** --platform: only these children of an index (a job's own platforms win). */
  platforms?: readonly Platform[]
  /** --deep: a tag at the same digest still has every child manifest and blob checked, and repaired. */
  deep?: boolean
  /** --dryRun: decide as a copy would, then stop before the first write ('planned'). */
  dryRun?: boolean
}

export interface CopyOutcome {
  status: 'copied' | 'skipped' | 'planned'
  /** Why a job was skipped: the same digest is there, the tag exists and may not be moved, or --platform left it out. */
  reason?: 'same digest' | 'tag exists' | 'platform not selected'
  /** Digest of the source's top manifest. */
  digest: string
  /** Digest of the top manifest at the destination, when it is not the source's (--platform made a subset index). */
  destinationDigest?: string
  /** What a reader of the report should know: a reduced index, what a dry run would do. */
  note?: string
  /** Blob bytes uploaded to the destination by this job. */
  bytes: number
  blobs: {uploaded: number; mounted: number; existing: number}
  manifests: number
}

/** Tries of one blob upload before the job fails (and the pipeline may retry the job). */
const BLOB_ATTEMPTS = 3

/** Used when a registry refuses a single streamed PUT as too large. */
const FALLBACK_CHUNK_SIZE = 16 * 1024 * 1024

/**
 * Copies one image. The order is the safety property: every blob, then every child manifest
 * (pushed by digest), is present at the destination before the manifest that references it is
 * pushed, and the top manifest goes last. A failure at any point leaves no manifest naming a
 * missing blob, and a re-run picks up what is already there.
 */
export async function copyImage(job: TransferJob, context: CopyContext): Promise<CopyOutcome> {
  const source = context.endpoints.source(job.source)
  const destination = context.endpoints.destination(job.destination)
  const sourceReference = job.source.digest ?? job.source.tag
  if (!sourceReference) throw new FerryError('INVALID_RULE', 'job without a source tag or digest')
  const destinationReference = job.destination.tag ?? job.destination.digest ?? job.source.digest
  if (!destinationReference) throw new FerryError('INVALID_RULE', 'job without a destination tag or digest')
  const signal = context.signal
  const platforms = job.platforms ?? context.platforms
  const subsetting = platforms !== undefined && platforms.length > 0

  // One HEAD at each side decides a no-change job; nothing else is requested for it.
  const [sourceHead, destinationHead] = await Promise.all([
    job.source.digest ? {digest: job.source.digest} : source.headManifest(sourceReference, signal),
    destination.headManifest(destinationReference, signal),
  ])
  const outcome: CopyOutcome = {status: 'skipped', digest: '', bytes: 0, blobs: {uploaded: 0, mounted: 0, existing: 0}, manifests: 0}
  if (!subsetting && !context.deep && sourceHead && destinationHead && sourceHead.digest === destinationHead.digest) {
    return {...outcome, digest: sourceHead.digest, reason: 'same digest'}
  }
  if (!subsetting && destinationHead && destinationHead.digest !== sourceHead?.digest && context.overwriteTags === false && job.destination.tag) {
    // Immutable-tag registries and mirrors under running clusters: an existing tag stays as it is.
    return {...outcome, digest: sourceHead?.digest ?? '', reason: 'tag exists'}
  }
  let manifest = await source.getManifest(sourceHead?.digest ?? sourceReference, signal)
  outcome.digest = manifest.digest
  if (job.destination.digest && job.destination.digest !== manifest.digest) {
    throw new FerryError('DIGEST_MISMATCH', `source manifest digest is ${manifest.digest}, not the destination digest ${job.destination.digest} the rule names`)
  }
  let pushReference = destinationReference
  if (subsetting) {
    // The subset's digest is what the destination tag holds after a copy, so a re-run compares with it.
    const choice = await choosePlatforms(manifest, platforms, source, signal)
    if (choice.kind === 'leave') return {...outcome, reason: 'platform not selected', note: choice.note}
    if (choice.manifest.digest !== manifest.digest) {
      outcome.destinationDigest = choice.manifest.digest
      outcome.note = choice.note
      if (pushReference === manifest.digest) pushReference = choice.manifest.digest
    }
    manifest = choice.manifest
    if (destinationHead && destinationHead.digest !== manifest.digest && context.overwriteTags === false && job.destination.tag) {
      return {...outcome, reason: 'tag exists'}
    }
  }
  if (destinationHead?.digest === manifest.digest) {
    if (!context.deep || context.dryRun) return {...outcome, reason: 'same digest'}
    // --deep: the tag is right; what it references may not be (a blob lost from storage).
    await copyReferenced(manifest, source, destination, context, outcome)
    const repaired = outcome.manifests > 0 || outcome.blobs.uploaded > 0 || outcome.blobs.mounted > 0
    if (repaired) outcome.status = 'copied'
    else outcome.reason = 'same digest'
    return outcome
  }
  if (context.dryRun) {
    const at = destinationHead ? `moves the tag from ${destinationHead.digest}` : 'new at the destination'
    return {...outcome, status: 'planned', note: outcome.note ? `${at}; ${outcome.note}` : at}
  }

  await context.prepare?.(job.destination.registry, job.destination.repository, signal)
  await copyReferenced(manifest, source, destination, context, outcome)
  await destination.putManifest(pushReference, manifest, signal)
  outcome.manifests++
  outcome.status = 'copied'
  return outcome
}

/** Everything a manifest references, children of an index first pushed by digest. */
async function copyReferenced(
  manifest: FetchedManifest,
  source: ImageSource,
  destination: ImageDestination,
  context: CopyContext,
  outcome: CopyOutcome,
): Promise<void> {
  const what = `${source.name}@${manifest.digest}`
  const parsed = parseManifest(manifest.bytes, manifest.mediaType, what)
  if (parsed.kind === 'index') {
    for (const child of parsed.manifests) {
      // By digest, never to the tag: immutable-tag registries refuse a tag pushed twice, and a
      // tag must not point at one platform while the others are still on their way.
      const present = await destination.headManifest(child.digest, context.signal)
      if (present?.digest === child.digest && !context.deep) continue
      const childManifest = await source.getManifest(child.digest, context.signal)
      await copyReferenced(childManifest, source, destination, context, outcome)
      if (present?.digest === child.digest) continue
      await destination.putManifest(child.digest, childManifest, context.signal)
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
async function ensureBlob(descriptor: Descriptor, source: ImageSource, destination: ImageDestination, context: CopyContext): Promise<BlobResult> {
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
    let chunkSize = context.chunkSize
    let bytes: number
    for (let attempt = 1; ; attempt++) {
      try {
        bytes = await uploadBlob(descriptor, source, destination, session, chunkSize, context)
        break
      } catch (error) {
        session = undefined // the session died with the failed upload
        if (error instanceof RegistryError && error.status === 413 && !chunkSize) {
          chunkSize = FALLBACK_CHUNK_SIZE
          continue
        }
        // A reset or an expired token in the middle of one layer costs that layer, not the whole job.
        if (!FerryError.is(error) || !error.retryable || attempt >= BLOB_ATTEMPTS || context.signal?.aborted) throw error
        await sleep(Math.max(0, backoffDelay(attempt, {baseMs: 200, retryAfterMs: (error as RegistryError).retryAfterMs})), context.signal)
      }
    }
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
  chunkSize: number | undefined,
  context: CopyContext,
): Promise<number> {
  const what = `blob ${descriptor.digest} of ${source.name}`
  const local = new AbortController()
  const signal = context.signal ? AbortSignal.any([context.signal, local.signal]) : local.signal
  let streamError: unknown
  let write: Promise<void> | undefined
  try {
    const body = await source.openBlob(descriptor, signal)
    const verifier = new DigestVerifier(descriptor, what)
    const streamFailed = new Promise<never>((_, reject) => {
      pipeline(body, verifier, (error) => {
        // When the write failed first, its end of the pipeline (or the abort below) comes back
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
    write = destination.writeBlob(descriptor, verifier, {signal, session, chunkSize})
    await Promise.race([write, streamFailed])
    return verifier.bytes
  } catch (error) {
    local.abort()
    // The destination cleans up its half-written blob (an upload session, a temporary file).
    await write?.catch(() => undefined)
    // The verifier's own error (DIGEST_MISMATCH, SIZE_MISMATCH, a reset at the source) says more
    // than the aborted write it caused.
    throw FerryError.is(streamError) ? streamError : error
  }
}

/** The errors a stream reports when its reader went away or aborted it, rather than the source failing. */
function consumerGone(error: unknown): boolean {
  const code = (error as {code?: unknown}).code
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR' || code === 'ERR_CANCELED' || (error as Error).name === 'AbortError'
}
