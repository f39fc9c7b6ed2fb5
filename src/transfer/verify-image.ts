/**
 * Checks one job's destination against its source without writing: the tag's manifest digest,
 * then every child manifest and blob it references, each by HEAD. The repair for what it finds
 * is `transfer --deep`.
 */
import {FerryError} from '../errors.js'
import type {TransferJob} from '../pipeline/job.js'
import type {FetchedManifest} from '../registry/manifests.js'
import {copiedBlobs, parseManifest} from '../registry/media-types.js'
import {formatPlatform} from '../select/platforms.js'
import type {Selection} from '../settings.js'
import type {EndpointResolver, ImageDestination, ImageSource} from './endpoints.js'
import {mapLimit} from './map-limit.js'
import {choosePlatforms} from './platform-select.js'
import {copyReferrers, emptyTally, type ReferrerContext} from './copy-referrers.js'

export interface VerifyContext
  extends Pick<Selection, 'platforms' | 'includeNondistributable' | 'referrers' | 'referrerArtifactTypes'>, Pick<ReferrerContext, 'flights'> {
  endpoints: EndpointResolver
  /** HEADs of one image's blobs at once. */
  blobConcurrency?: number
  signal?: AbortSignal
}

export interface VerifyOutcome {
  /** The source's top manifest digest. */
  digest: string
  /** The digest the destination tag should hold when it is not the source's (--platform). */
  destinationDigest?: string
  /** A platform the selection leaves out: nothing to check. */
  leftOut?: string
  /** What the destination lacks or holds differently, one item each; empty when complete. */
  missing: string[]
}

export async function verifyImage(job: TransferJob, context: VerifyContext): Promise<VerifyOutcome> {
  const source = context.endpoints.source(job.source)
  const destination = context.endpoints.destination(job.destination)
  const sourceReference = job.source.digest ?? job.source.tag
  const destinationReference = job.destination.tag ?? job.destination.digest ?? job.source.digest
  if (!sourceReference || !destinationReference) throw new FerryError('INVALID_RULE', 'job without a source or destination reference')
  const signal = context.signal
  let manifest = await source.getManifest(sourceReference, signal)
  const outcome: VerifyOutcome = {digest: manifest.digest, missing: []}
  const platforms = job.platforms ?? context.platforms
  if (platforms && platforms.length > 0) {
    const choice = await choosePlatforms(manifest, platforms, source, signal)
    if (choice.kind === 'leave') return {...outcome, leftOut: choice.note}
    if (choice.manifest.digest !== manifest.digest) outcome.destinationDigest = choice.manifest.digest
    manifest = choice.manifest
  }
  const where = `${destination.name}:${destinationReference}`.replace(/:(sha256:)/, '@$1')
  const head = await destination.headManifest(destinationReference, signal)
  if (!head) {
    outcome.missing.push(`missing manifest ${where} (source ${manifest.digest})`)
    return outcome
  }
  if (head.digest !== manifest.digest) {
    outcome.missing.push(`different manifest ${where}: ${head.digest}, the source has ${manifest.digest}`)
    return outcome
  }
  await checkReferenced(manifest, source, destination, context, outcome.missing, '')
  // A reduced index is a manifest of its own: the source's referrers are of the whole one.
  if (context.referrers !== false && !outcome.destinationDigest && destination.listsReferrers)
    await checkReferrers(manifest.digest, source, destination, context, outcome.missing)
  return outcome
}

/**
 * Every referrer of the image (and theirs) at the destination, and findable there; the walk of the
 * copy, writing nothing. `of` names a platform manifest: a transfer that finds its index equal
 * does not look again, so what it lacks is added with --deep.
 */
async function checkReferrers(
  subject: string,
  source: ImageSource,
  destination: ImageDestination,
  context: VerifyContext,
  missing: string[],
  of = '',
): Promise<void> {
  const tally = emptyTally()
  const walk = {...context, dryRun: true, checkIndex: true}
  await copyReferrers(subject, source, destination, walk, async () => undefined, tally)
  const fix = of ? 'run transfer again with --deep to add it' : 'run transfer again to add it'
  for (const referrer of tally.planned) missing.push(`missing referrer ${destination.name}: ${referrer}${of}${of ? ` (${fix})` : ''}`)
  for (const referrer of tally.unlisted ?? []) missing.push(`referrer ${referrer}${of} is not findable: ${fix}`)
}

async function checkReferenced(
  manifest: FetchedManifest,
  source: ImageSource,
  destination: ImageDestination,
  context: VerifyContext,
  missing: string[],
  of: string,
): Promise<void> {
  const parsed = parseManifest(manifest.bytes, manifest.mediaType, `${source.name}@${manifest.digest}`)
  if (parsed.kind === 'index') {
    for (const child of parsed.manifests) {
      const label = ` (${formatPlatform(child.platform)})`
      const present = await destination.headManifest(child.digest, context.signal)
      if (present?.digest !== child.digest) {
        missing.push(`missing manifest ${destination.name}@${child.digest}${label}`)
        continue
      }
      const childManifest = await source.getManifest(child.digest, context.signal)
      await checkReferenced(childManifest, source, destination, context, missing, ` of manifest ${child.digest}${label}`)
      // A signature over one platform's manifest travels with the index as the index's own do.
      if (context.referrers !== false && destination.listsReferrers)
        await checkReferrers(child.digest, source, destination, context, missing, ` of manifest ${child.digest}${label}`)
    }
    return
  }
  const blobs = copiedBlobs(parsed, {nondistributable: context.includeNondistributable})
  const absent = new Set<string>()
  await mapLimit(blobs, context.blobConcurrency ?? 3, async (descriptor) => {
    if (!(await destination.hasBlob(descriptor.digest, context.signal))) absent.add(descriptor.digest)
  })
  // In the manifest's order, so the same destination gives the same lines.
  for (const descriptor of blobs) {
    if (absent.has(descriptor.digest)) missing.push(`missing blob ${destination.name}@${descriptor.digest}${of}`)
  }
}
