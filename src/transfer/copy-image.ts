import {FerryError} from '../errors.js'
import {destinationsOf, type TransferJob} from '../pipeline/job.js'
import type {FetchedManifest, ManifestHead} from '../registry/manifests.js'
import {copiedBlobs, parseManifest} from '../registry/media-types.js'
import type {EndpointResolver, ImageDestination, ImageSource} from './endpoints.js'
import {ensureBlob, type BlobContext, type CopyEvent} from './copy-blob.js'
import {
  pinnedElsewhere,
  planFromHeads,
  planFromManifest,
  type DestinationHead,
  type PlanOptions,
  type PlannedDestination,
  type PlatformSubset,
  type Settled,
  type SkipReason,
} from './copy-plan.js'
import {FanOutDestination} from './fan-out.js'
import {askReferrers, copyReferrers, emptyTally, type ReferrerContext, type ReferrerTally} from './copy-referrers.js'
import type {Selection, UserSettings} from '../settings.js'
import {choosePlatforms} from './platform-select.js'
import {mapLimit} from './map-limit.js'

/**
 * What the copy of one image runs with: the session's endpoints, locks and streams, and the
 * settings it reads (src/settings.ts documents each).
 */
export interface CopyContext
  extends
    BlobContext,
    Pick<Selection, 'platforms' | 'overwriteTags' | 'deep' | 'includeNondistributable' | 'referrers' | 'referrerArtifactTypes'>,
    Pick<UserSettings, 'dryRun'>,
    Pick<ReferrerContext, 'lockedReferrers'> {
  endpoints: EndpointResolver
  /** Blobs of one image copied at once. */
  blobConcurrency?: number
  /** Makes the destination repository exist where a registry needs that before a push. */
  prepare?: (registry: string, repository: string, signal?: AbortSignal) => Promise<void>
}

export type {CopyEvent} from './copy-blob.js'

export interface CopyOutcome {
  /** 'failed' only for one destination of several, when the others went on without it. */
  status: 'copied' | 'skipped' | 'planned' | 'failed'
  error?: unknown
  /** Why a job was skipped: the same digest is there, the tag exists and may not be moved, or --platform left it out. */
  reason?: SkipReason
  /** Digest of the source's top manifest. */
  digest: string
  /** Digest the destination reference points at afterwards (the one it had, for a skip); differs from `digest` for a platform subset. */
  destinationDigest?: string
  /** What a reader of the report should know: a reduced index, what a dry run would do. */
  note?: string
  /** Blob bytes uploaded to the destination by this job. */
  bytes: number
  blobs: {uploaded: number; mounted: number; existing: number}
  /** The blobs' sizes, by the same three ways: what mounts and blobs already present saved. */
  blobBytes: {uploaded: number; mounted: number; existing: number}
  manifests: number
  /** The image's referrers at this destination (absent with referrers off, or for a job that wrote nothing of the image's). */
  referrers?: ReferrerTally
}

/**
 * Copies one image to its destination (and to the job's further destinations, reading the
 * source once for all of them). Returns one outcome per destination, in the job's order. What
 * each destination gets is decided by copy-plan.ts; this performs it.
 *
 * The order is the safety property: every blob, then every child manifest (pushed by digest), is
 * present at a destination before the manifest that references it is pushed, and the top
 * manifest goes last. A failure at any point leaves no manifest naming a missing blob, and a
 * re-run picks up what is already there.
 */
export async function copyImage(job: TransferJob, context: CopyContext): Promise<CopyOutcome[]> {
  if (job.lockedReferrers) context = {...context, lockedReferrers: new Set(job.lockedReferrers)}
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
  const options: PlanOptions = {subsetting, deep: context.deep, dryRun: context.dryRun, overwriteTags: context.overwriteTags}

  // One HEAD at each side decides a no-change job; nothing else is requested for it.
  const askedSource = job.source.digest ? Promise.resolve({digest: job.source.digest}) : source.headManifest(sourceReference, signal)
  askedSource.catch(() => undefined) // awaited below, unless the manifest is fetched without it
  const heads = await Promise.allSettled(targets.map((target) => target.endpoint.headManifest(target.reference, signal)))
  // With several destinations, one that cannot even be asked fails alone.
  if (heads.every((head) => head.status === 'rejected')) {
    await askedSource // the source's own failure, when it has one, says more
    throw (heads[0] as PromiseRejectedResult).reason
  }
  // At no destination: the manifest is needed whatever the source's HEAD says, so it is asked for
  // now rather than one round trip after that HEAD (a new image across a far link). Never when a
  // destination holds the reference: a manifest GET can count against a pull limit, a HEAD not.
  const early = job.source.digest === undefined && heads.every((head) => head.status === 'fulfilled' && head.value === undefined)
  const sourceHead = early ? undefined : await askedSource
  const destinations: PlannedDestination[] = targets.map(({location}, index) => ({
    head: headOf(heads[index]!),
    tagged: Boolean(location.tag),
    ...(location.digest ? {pinned: location.digest} : {}),
  }))
  const outcomes: CopyOutcome[] = []
  const open: number[] = []
  planFromHeads(sourceHead?.digest, destinations, options).forEach((decision, index) => {
    if (decision.kind === 'fetch') open.push(index)
    else outcomes[index] = settled(decision)
  })
  // Only the heads-only path returns here, and it settles nothing under --platform: the full image.
  if (open.length === 0) return withReferrers(outcomes, sourceHead?.digest, targets, source, context)

  const fetched = await source.getManifest(sourceHead?.digest ?? sourceReference, signal)
  const sourceDigest = fetched.digest
  const pinned = pinnedElsewhere(
    open.map((index) => destinations[index]!),
    sourceDigest,
  )
  if (pinned) throw new FerryError('DIGEST_MISMATCH', `source manifest digest is ${sourceDigest}, not the destination digest ${pinned} the rule names`)
  const choice = subsetting ? await choosePlatforms(fetched, platforms, source, signal) : undefined
  const manifest = choice?.kind === 'keep' ? choice.manifest : fetched
  const selection: PlatformSubset = !choice ? {kind: 'all'} : choice.kind === 'leave' ? choice : {kind: 'keep', digest: manifest.digest, note: choice.note}
  // A reduced index is a manifest of its own: the source's referrers name (and sign) the whole one.
  const subject = manifest.digest === sourceDigest ? sourceDigest : undefined
  // The platform manifests an index names are copied as they are, so theirs travel too.
  const children = childDigests(manifest, source.name)
  const repair: Task[] = []
  const copy: Task[] = []
  planFromManifest(
    sourceDigest,
    selection,
    open.map((index) => destinations[index]!),
    options,
  ).forEach((decision, member) => {
    const index = open[member]!
    if (decision.kind === 'repair' || decision.kind === 'copy') {
      outcomes[index] = {status: 'skipped', digest: sourceDigest, ...nothingWritten()}
      const tasks = decision.kind === 'repair' ? repair : copy
      tasks.push({index, ...(decision.note ? {note: decision.note} : {})})
    } else outcomes[index] = settled(decision)
  })

  // --deep: the tag is right; what it references may not be (a blob lost from storage).
  for (const {index, note} of repair) {
    const outcome = outcomes[index]!
    await copyReferenced(manifest, source, targets[index]!.endpoint, context, outcome)
    const repaired = outcome.manifests > 0 || outcome.blobs.uploaded > 0 || outcome.blobs.mounted > 0
    Object.assign(outcome, {destinationDigest: manifest.digest, ...(note ? {note} : {})})
    if (repaired) outcome.status = 'copied'
    else outcome.reason = 'same digest'
  }
  if (copy.length === 0) return withReferrers(outcomes, subject, targets, source, context, children)

  const asked = wantsReferrers(copy, targets, source, context) ? askReferrers([...(subject ? [subject] : []), ...children], source, context) : undefined
  // A digest-pinned destination of a subset is pushed under the subset's own digest.
  const pushReference = (index: number) => (targets[index]!.reference === sourceDigest ? manifest.digest : targets[index]!.reference)
  await Promise.all(copy.map(({index}) => context.prepare?.(targets[index]!.location.registry, targets[index]!.location.repository, signal)))
  const fan =
    copy.length > 1
      ? new FanOutDestination(
          copy.map(({index}) => targets[index]!.endpoint),
          context.homes,
        )
      : undefined
  const shared: CopyOutcome = {status: 'copied', digest: sourceDigest, ...nothingWritten()}
  await copyReferenced(manifest, source, fan ?? targets[copy[0]!.index]!.endpoint, context, shared)
  const pushes = await Promise.allSettled(
    copy.map(async ({index}) => {
      const endpoint = targets[index]!.endpoint
      if (fan?.failures.has(endpoint)) throw fan.failures.get(endpoint)
      // Stated, not left to the HTTP layer: an abandoned copy never pushes its manifest.
      if (signal?.aborted) throw new FerryError('ABORTED', `${endpoint.name}:${pushReference(index)}: stopped before pushing the manifest`)
      return endpoint.putManifest(pushReference(index), manifest, signal)
    }),
  )
  // A single destination fails the job as before; with several, each one fails on its own.
  if (!fan && pushes[0]?.status === 'rejected') throw pushes[0].reason
  copy.forEach(({index, note}, member) => {
    const tally = fan?.tallies[member] ?? shared
    const push = pushes[member]!
    const common = {digest: sourceDigest, bytes: tally.bytes, blobs: {...tally.blobs}, blobBytes: {...tally.blobBytes}, ...(note ? {note} : {})}
    outcomes[index] =
      push.status === 'rejected'
        ? {...common, status: 'failed', error: push.reason, manifests: 0}
        : {...common, status: 'copied', destinationDigest: push.value, manifests: shared.manifests + 1}
  })
  return withReferrers(outcomes, subject, targets, source, asked ? {...context, asked} : context, children)
}

/** Whether the referrers of an image this job writes will be looked up (withReferrers' conditions). */
function wantsReferrers(copy: readonly Task[], targets: readonly {endpoint: ImageDestination}[], source: ImageSource, context: CopyContext): boolean {
  return context.referrers !== false && source.referrers !== undefined && copy.some(({index}) => targets[index]!.endpoint.listsReferrers !== undefined)
}

/**
 * The referrers of `subject` (the source's top manifest, which each of these destinations holds
 * now or, in a dry run, would hold), copied to each destination after it: also when the image was
 * found equal, so a signature added later comes with the next run. Those of the index's
 * `children` come where this job wrote the image, or walked it again (--deep): one lookup per
 * manifest copied; a run that finds the image equal asks nothing more. A single destination's failure fails the job (its
 * retry finds the image equal and goes on with the referrers); one of several fails alone.
 */
async function withReferrers(
  outcomes: CopyOutcome[],
  subject: string | undefined,
  targets: readonly {endpoint: ImageDestination}[],
  source: ImageSource,
  context: CopyContext & Pick<ReferrerContext, 'asked'>,
  children: readonly string[] = [],
): Promise<CopyOutcome[]> {
  if (context.referrers === false || !source.referrers) return outcomes
  const done = await Promise.allSettled(
    outcomes.map(async (outcome, index) => {
      const holds = outcome.status === 'copied' || outcome.status === 'planned' || (outcome.status === 'skipped' && outcome.reason === 'same digest')
      const subjects = [
        ...(holds && subject && outcome.digest === subject ? [subject] : []),
        ...(outcome.status === 'copied' || (context.deep && holds) ? children : []),
      ]
      const destination = targets[index]!.endpoint
      // A destination that cannot say where it keeps referrers (a fan-out) gets none.
      if (subjects.length === 0 || !destination.listsReferrers) return
      outcome.referrers = emptyTally()
      for (const digest of subjects)
        await copyReferrers(
          digest,
          source,
          destination,
          context,
          (manifest) => copyReferenced(manifest, source, destination, context, outcome),
          outcome.referrers,
        )
      if (outcome.status === 'skipped' && outcome.referrers.copied > 0) outcome.note = `image unchanged; ${outcome.referrers.copied} referrers copied`
    }),
  )
  if (targets.length === 1 && done[0]?.status === 'rejected') throw done[0].reason
  return outcomes.map((outcome, index) => {
    const result = done[index]!
    return result.status === 'rejected' ? {...outcome, status: 'failed', error: result.reason} : outcome
  })
}

/** The digests of the manifests an index names; none for an image. */
function childDigests(manifest: FetchedManifest, from: string): string[] {
  const parsed = parseManifest(manifest.bytes, manifest.mediaType, `${from}@${manifest.digest}`)
  return parsed.kind === 'index' ? parsed.manifests.map((child) => child.digest) : []
}

/** A destination the plan writes to, and the note its report carries. */
type Task = {index: number; note?: string}

function headOf(head: PromiseSettledResult<ManifestHead | undefined>): DestinationHead {
  if (head.status === 'rejected') return {kind: 'unreachable', error: head.reason}
  return head.value ? {kind: 'present', digest: head.value.digest} : {kind: 'absent'}
}

/** The report of a destination the plan settled without a write. */
function settled(decision: Settled): CopyOutcome {
  if (decision.kind === 'failed') return {status: 'failed', error: decision.error, digest: '', ...nothingWritten()}
  const {kind, ...fields} = decision
  return {status: kind === 'skip' ? 'skipped' : 'planned', ...fields, ...nothingWritten()}
}

function nothingWritten() {
  return {bytes: 0, blobs: {uploaded: 0, mounted: 0, existing: 0}, blobBytes: {uploaded: 0, mounted: 0, existing: 0}, manifests: 0}
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
    // Children side by side: on a far link each is a chain of round trips (manifest, blobs,
    // push). The index itself is pushed by the caller only once every one of them is in.
    await mapLimit(parsed.manifests, context.blobConcurrency ?? 3, async (child) => {
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
    })
    return
  }
  const blobs = copiedBlobs(parsed, {nondistributable: context.includeNondistributable})
  if (destination instanceof FanOutDestination) destination.learnSizes(blobs)
  await mapLimit(blobs, context.blobConcurrency ?? 3, async (descriptor) => {
    const how = await ensureBlob(descriptor, source, destination, context)
    outcome.blobs[how.kind]++
    outcome.blobBytes[how.kind] += descriptor.size
    outcome.bytes += how.bytes
    context.onEvent?.({type: 'blob', digest: descriptor.digest, outcome: how.kind, bytes: how.bytes})
  })
}
