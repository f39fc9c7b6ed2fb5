import {pipeline} from 'node:stream'

import {FerryError, RegistryError} from '../errors.js'
import {destinationsOf, type TransferJob} from '../pipeline/job.js'
import {networkError} from '../registry/client.js'
import {DigestVerifier} from '../registry/digest-verifier.js'
import type {FetchedManifest} from '../registry/manifests.js'
import {copiedBlobs, parseManifest, type Descriptor} from '../registry/media-types.js'
import type {BlobHomes, FlightLock} from './blob-flight.js'
import type {EndpointResolver, ImageDestination, ImageSource} from './endpoints.js'
import type {ByteRate} from './byte-rate.js'
import {FanOutDestination} from './fan-out.js'
import type {Platform} from '../select/platforms.js'
import {choosePlatforms} from './platform-select.js'
import {mapLimit} from './map-limit.js'
import {backoffDelay, sleep} from '../retry.js'

export interface CopyContext {
  endpoints: EndpointResolver
  flights: FlightLock
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
  /** --limitRate: blob bytes per second for the whole process. */
  byteRate?: ByteRate
  /** --platform: only these children of an index (a job's own platforms win). */
  platforms?: readonly Platform[]
  /** --deep: a tag at the same digest still has every child manifest and blob checked, and repaired. */
  deep?: boolean
  /** --dryRun: decide as a copy would, then stop before the first write ('planned'). */
  dryRun?: boolean
}

export type CopyEvent =
  | {type: 'blob'; digest: string; outcome: 'uploaded' | 'mounted' | 'existing'; bytes: number}
  | {type: 'bytes'; bytes: number}
  | {type: 'blob-retry'; digest: string; attempt: number; delayMs: number; error: unknown}

export interface CopyOutcome {
  /** 'failed' only for one destination of several, when the others went on without it. */
  status: 'copied' | 'skipped' | 'planned' | 'failed'
  error?: unknown
  /** Why a job was skipped: the same digest is there, the tag exists and may not be moved, or --platform left it out. */
  reason?: 'same digest' | 'tag exists' | 'platform not selected'
  /** Digest of the source's top manifest. */
  digest: string
  /** Digest the destination reference points at afterwards (the one it had, for a skip); differs from `digest` for a platform subset. */
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
  const platforms = job.platforms ?? context.platforms
  const subsetting = platforms !== undefined && platforms.length > 0

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
  const settle = (index: number, fields: Partial<CopyOutcome>) => Object.assign(outcomes[index]!, fields)
  let pending = targets.map((_, index) => index).filter((index) => outcomes[index]!.status !== 'failed')
  pending = pending.filter((index) => {
    const head = destinationHeads[index]
    if (!subsetting && !context.deep && sourceHead && head && sourceHead.digest === head.digest) {
      settle(index, {digest: sourceHead.digest, destinationDigest: head.digest, reason: 'same digest'})
      return false
    }
    if (!subsetting && head && head.digest !== sourceHead?.digest && context.overwriteTags === false && targets[index]!.location.tag) {
      // Immutable-tag registries and mirrors under running clusters: an existing tag stays as it is.
      settle(index, {digest: sourceHead?.digest ?? '', destinationDigest: head.digest, reason: 'tag exists'})
      return false
    }
    return true
  })
  if (pending.length === 0) return outcomes

  let manifest = await source.getManifest(sourceHead?.digest ?? sourceReference, signal)
  const sourceDigest = manifest.digest
  for (const index of pending) {
    outcomes[index]!.digest = sourceDigest
    const wanted = targets[index]!.location.digest
    if (wanted && wanted !== sourceDigest) {
      throw new FerryError('DIGEST_MISMATCH', `source manifest digest is ${sourceDigest}, not the destination digest ${wanted} the rule names`)
    }
  }
  let note: string | undefined
  if (subsetting) {
    // The subset's digest is what the destination tag holds after a copy, so a re-run compares with it.
    const choice = await choosePlatforms(manifest, platforms, source, signal)
    if (choice.kind === 'leave') {
      for (const index of pending) settle(index, {reason: 'platform not selected', note: choice.note})
      return outcomes
    }
    if (choice.manifest.digest !== manifest.digest) note = choice.note
    manifest = choice.manifest
    pending = pending.filter((index) => {
      const head = destinationHeads[index]
      if (head && head.digest !== manifest.digest && context.overwriteTags === false && targets[index]!.location.tag) {
        settle(index, {destinationDigest: head.digest, reason: 'tag exists', ...(note ? {note} : {})})
        return false
      }
      return true
    })
  }
  // A digest-pinned destination of a subset is pushed under the subset's own digest.
  const pushReference = (index: number) => (targets[index]!.reference === sourceDigest ? manifest.digest : targets[index]!.reference)

  const repair: number[] = []
  pending = pending.filter((index) => {
    const head = destinationHeads[index]
    if (head?.digest === manifest.digest) {
      if (!context.deep || context.dryRun) settle(index, {destinationDigest: manifest.digest, reason: 'same digest', ...(note ? {note} : {})})
      else repair.push(index)
      return false
    }
    if (context.dryRun) {
      const at = head ? `moves the tag from ${head.digest}` : 'new at the destination'
      settle(index, {status: 'planned', note: note ? `${at}; ${note}` : at})
      return false
    }
    return true
  })

  // --deep: the tag is right; what it references may not be (a blob lost from storage).
  for (const index of repair) {
    const outcome = outcomes[index]!
    await copyReferenced(manifest, source, targets[index]!.endpoint, context, outcome)
    const repaired = outcome.manifests > 0 || outcome.blobs.uploaded > 0 || outcome.blobs.mounted > 0
    Object.assign(outcome, {destinationDigest: manifest.digest, ...(note ? {note} : {})})
    if (repaired) outcome.status = 'copied'
    else outcome.reason = 'same digest'
  }
  if (pending.length === 0) return outcomes

  await Promise.all(pending.map((index) => context.prepare?.(targets[index]!.location.registry, targets[index]!.location.repository, signal)))
  const fan = pending.length > 1 ? new FanOutDestination(pending.map((index) => targets[index]!.endpoint), context.homes) : undefined
  const shared: CopyOutcome = {status: 'copied', digest: sourceDigest, bytes: 0, blobs: {uploaded: 0, mounted: 0, existing: 0}, manifests: 0}
  await copyReferenced(manifest, source, fan ?? targets[pending[0]!]!.endpoint, context, shared)
  const pushes = await Promise.allSettled(
    pending.map(async (index) => {
      const endpoint = targets[index]!.endpoint
      if (fan?.failures.has(endpoint)) throw fan.failures.get(endpoint)
      // Stated, not left to the HTTP layer: an abandoned copy never pushes its manifest.
      if (signal?.aborted) throw new FerryError('ABORTED', `${endpoint.name}:${pushReference(index)}: stopped before pushing the manifest`)
      return endpoint.putManifest(pushReference(index), manifest, signal)
    }),
  )
  // A single destination fails the job as before; with several, each one fails on its own.
  if (!fan && pushes[0]?.status === 'rejected') throw pushes[0].reason
  pending.forEach((index, member) => {
    const tally = fan?.tallies[member] ?? shared
    const push = pushes[member]!
    const common = {digest: sourceDigest, bytes: tally.bytes, blobs: {...tally.blobs}, ...(note ? {note} : {})}
    outcomes[index] =
      push.status === 'rejected'
        ? {...common, status: 'failed', error: push.reason, manifests: 0}
        : {...common, status: 'copied', destinationDigest: push.value, manifests: shared.manifests + 1}
  })
  return outcomes
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
      // One push of a child per destination repository at a time, checked again inside: CNCF
      // Distribution 2.8 rewrites a manifest's revision link in place when it is pushed again, and
      // an index PUT checking that child at that moment answers 400 DIGEST_INVALID (two tags of
      // one index copied, saved or loaded at once).
      const key = `manifest\u0000${destination.repository}\u0000${child.digest}`
      await context.flights.exclusive(destination.flightKey, key, async () => {
        // By digest, never to the tag: immutable-tag registries refuse a tag pushed twice, and a
        // tag must not point at one platform while the others are still on their way.
        const present = await destination.headManifest(child.digest, context.signal)
        if (present?.digest === child.digest && !context.deep) return
        const childManifest = await source.getManifest(child.digest, context.signal)
        await copyReferenced(childManifest, source, destination, context, outcome)
        if (present?.digest === child.digest) return
        if (context.signal?.aborted) throw new FerryError('ABORTED', `${destination.name}@${child.digest}: stopped before pushing the manifest`)
        await destination.putManifest(child.digest, childManifest, context.signal)
        outcome.manifests++
      })
    }
    return
  }
  const blobs = copiedBlobs(parsed)
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
    // The cap sits after the verifier, so the held-back last chunk is still released only once the
    // digest is known to be right.
    const throttle = context.byteRate?.throttle()
    const streamFailed = new Promise<never>((_, reject) => {
      pipeline(throttle ? [body, verifier, throttle] : [body, verifier], (error) => {
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
    write = destination.writeBlob(descriptor, throttle ?? verifier, {signal, session, chunkSize})
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
