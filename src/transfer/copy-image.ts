import {pipeline} from 'node:stream'

import {FerryError, RegistryError} from '../errors.js'
import type {ImageLocation, TransferJob} from '../pipeline/job.js'
import {networkError} from '../registry/client.js'
import {DigestVerifier} from '../registry/digest-verifier.js'
import type {FetchedManifest} from '../registry/manifests.js'
import {isForeignLayer, parseManifest, type Descriptor} from '../registry/media-types.js'
import type {BlobFlights, BlobHomes} from './blob-flight.js'
import type {EndpointResolver, ImageDestination, ImageSource} from './endpoints.js'
import {FanOutDestination} from './fan-out.js'
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
  /** Told of each blob made present, bytes streamed and blob retries (progress, --verbose). */
  onEvent?: (event: CopyEvent) => void
}

export type CopyEvent =
  | {type: 'blob'; digest: string; outcome: 'uploaded' | 'mounted' | 'existing'; bytes: number}
  | {type: 'bytes'; bytes: number}
  | {type: 'blob-retry'; digest: string; attempt: number; delayMs: number; error: unknown}

export interface CopyOutcome {
  /** 'failed' only for one destination of several, when the others went on without it. */
  status: 'copied' | 'skipped' | 'failed'
  error?: unknown
  /** Why a job was skipped: the same digest is there, or the tag exists and may not be moved. */
  reason?: 'same digest' | 'tag exists'
  /** Digest of the top manifest. */
  digest: string
  /** Digest the destination reference points at afterwards (the one it had, for a skip). */
  destinationDigest?: string
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
 * Copies one image to its destination (and to the job's further destinations, reading the
 * source once for all of them). Returns one outcome per destination, in the job's order.
 *
 * The order is the safety property: every blob, then every child manifest (pushed by digest), is
 * present at a destination before the manifest that references it is pushed, and the top
 * manifest goes last. A failure at any point leaves no manifest naming a missing blob, and a
 * re-run picks up what is already there.
 */
export async function copyImage(job: TransferJob, context: CopyContext): Promise<CopyOutcome[]> {
  const source = context.endpoints.source(job.source)
  const sourceReference = job.source.digest ?? job.source.tag
  if (!sourceReference) throw new FerryError('INVALID_RULE', 'job without a source tag or digest')
  const targets = destinationsOf(job).map((location) => {
    const reference = location.tag ?? location.digest ?? job.source.digest
    if (!reference) throw new FerryError('INVALID_RULE', 'job without a destination tag or digest')
    return {location, reference, endpoint: context.endpoints.destination(location)}
  })
  const signal = context.signal

  // One HEAD at each side decides a no-change job; nothing else is requested for it.
  const [sourceHead, heads] = await Promise.all([
    job.source.digest ? {digest: job.source.digest} : source.headManifest(sourceReference, signal),
    Promise.allSettled(targets.map((target) => target.endpoint.headManifest(target.reference, signal))),
  ])
  // With several destinations, one that cannot even be asked fails alone.
  if (heads.every((head) => head.status === 'rejected')) throw (heads[0] as PromiseRejectedResult).reason
  const destinationHeads = heads.map((head) => (head.status === 'fulfilled' ? head.value : undefined))
  const outcomes: CopyOutcome[] = heads.map((head) => ({
    status: head.status === 'rejected' ? 'failed' : 'skipped',
    ...(head.status === 'rejected' ? {error: head.reason} : {}),
    digest: '',
    bytes: 0,
    blobs: {uploaded: 0, mounted: 0, existing: 0},
    manifests: 0,
  }))
  let pending = targets.map((_, index) => index).filter((index) => outcomes[index]!.status !== 'failed')
  pending = pending.filter((index) => {
    const head = destinationHeads[index]
    const outcome = outcomes[index]!
    if (sourceHead && head && sourceHead.digest === head.digest) {
      Object.assign(outcome, {digest: sourceHead.digest, destinationDigest: head.digest, reason: 'same digest'})
      return false
    }
    if (head && context.overwriteTags === false && targets[index]!.location.tag) {
      // Immutable-tag registries and mirrors under running clusters: an existing tag stays as it is.
      Object.assign(outcome, {digest: sourceHead?.digest ?? '', destinationDigest: head.digest, reason: 'tag exists'})
      return false
    }
    return true
  })
  if (pending.length === 0) return outcomes

  const manifest = await source.getManifest(sourceHead?.digest ?? sourceReference, signal)
  pending = pending.filter((index) => {
    const outcome = outcomes[index]!
    outcome.digest = manifest.digest
    if (destinationHeads[index]?.digest === manifest.digest) {
      Object.assign(outcome, {destinationDigest: manifest.digest, reason: 'same digest'})
      return false
    }
    const wanted = targets[index]!.location.digest
    if (wanted && wanted !== manifest.digest) {
      throw new FerryError('DIGEST_MISMATCH', `source manifest digest is ${manifest.digest}, not the destination digest ${wanted} the rule names`)
    }
    return true
  })
  if (pending.length === 0) return outcomes

  await Promise.all(pending.map((index) => context.prepare?.(targets[index]!.location.registry, targets[index]!.location.repository, signal)))
  const fan = pending.length > 1 ? new FanOutDestination(pending.map((index) => targets[index]!.endpoint), context.homes) : undefined
  const shared: CopyOutcome = {status: 'copied', digest: manifest.digest, bytes: 0, blobs: {uploaded: 0, mounted: 0, existing: 0}, manifests: 0}
  await copyReferenced(manifest, source, fan ?? targets[pending[0]!]!.endpoint, context, shared)
  const pushes = await Promise.allSettled(
    pending.map(async (index) => {
      const endpoint = targets[index]!.endpoint
      if (fan?.failures.has(endpoint)) throw fan.failures.get(endpoint)
      return endpoint.putManifest(targets[index]!.reference, manifest, signal)
    }),
  )
  // A single destination fails the job as before; with several, each one fails on its own.
  if (!fan && pushes[0]?.status === 'rejected') throw pushes[0].reason
  pending.forEach((index, member) => {
    const tally = fan?.tallies[member] ?? shared
    const push = pushes[member]!
    outcomes[index] =
      push.status === 'rejected'
        ? {status: 'failed', error: push.reason, digest: manifest.digest, bytes: tally.bytes, blobs: {...tally.blobs}, manifests: 0}
        : {status: 'copied', digest: manifest.digest, destinationDigest: push.value, bytes: tally.bytes, blobs: {...tally.blobs}, manifests: shared.manifests + 1}
  })
  return outcomes
}

/** The job's destination, then those served from the same read of the source. */
export function destinationsOf(job: TransferJob): ImageLocation[] {
  return [job.destination, ...(job.extraDestinations ?? [])]
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
      if (present?.digest === child.digest) continue
      const childManifest = await source.getManifest(child.digest, context.signal)
      await copyReferenced(childManifest, source, destination, context, outcome)
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
    context.onEvent?.({type: 'blob', digest: descriptor.digest, outcome: how.kind, bytes: how.bytes})
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
        const delayMs = Math.max(0, backoffDelay(attempt, {baseMs: 200, retryAfterMs: (error as RegistryError).retryAfterMs}))
        context.onEvent?.({type: 'blob-retry', digest, attempt, delayMs, error})
        await sleep(delayMs, context.signal)
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
    const onChunk = context.onEvent && ((bytes: number) => context.onEvent!({type: 'bytes', bytes}))
    const verifier = new DigestVerifier(descriptor, what, onChunk)
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
