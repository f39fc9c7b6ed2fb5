/**
 * The referrers of an image (signatures, attestations, SBOMs, any artifact whose `subject` names
 * it, and cosign's `sha256-<hex>.sig`/`.att`/`.sbom` tags) copied after it, and theirs after
 * them (a signature of an SBOM). Called once the subject is present at the destination: each
 * referrer is copied by digest as any manifest (blobs first) and pushed only then, so a referrer
 * never names a subject the destination lacks. A destination without the referrers API gets the
 * fallback tag index `<alg>-<hex>` kept for it (merged, never an entry dropped).
 */
import {sha256Digest} from '../digest.js'
import {FerryError} from '../errors.js'
import type {FetchedManifest} from '../registry/manifests.js'
import {OCI_INDEX} from '../registry/media-types.js'
import {fallbackTag, readIndex, type ReferrerDescriptor} from '../registry/referrers.js'
import type {Selection} from '../settings.js'
import type {FlightLock} from './blob-flight.js'
import type {FoundReferrer, ImageDestination, ImageSource} from './endpoints.js'
import {mergeReferrerIndex, missingFromIndex, withoutEntries} from './referrer-set.js'

/** What the referrers of one image came to at one destination. */
export interface ReferrerTally {
  /** Pushed by this job. */
  copied: number
  /** Already at the destination. */
  present: number
  /** A dry run (and `ferry verify`): what it would copy, one item each (`sha256:… (artifact type)` or the cosign tag). */
  planned: string[]
  /** `ferry verify`: referrers present but not findable: the fallback index of a destination without the API does not list them. */
  unlisted?: string[]
  /** Each referrer copied or found present, as the lock records it (`referrerItem`), recursively. */
  held: string[]
  /** --frozen: referrers at the source the lock does not name, not copied. */
  unlocked?: string[]
}

export interface ReferrerContext extends Pick<Selection, 'referrerArtifactTypes'> {
  dryRun?: boolean
  /** With dryRun: also check that the destination's fallback index lists what it holds (`ferry verify`). */
  checkIndex?: boolean
  flights: FlightLock
  signal?: AbortSignal
  /** --frozen: only these referrers (`referrerItem`s the lock names) travel, each one a must. */
  lockedReferrers?: ReadonlySet<string>
  /** Lookups at the source already sent, by subject: copy-image asks while the image copies, not after its push. */
  asked?: ReadonlyMap<string, Promise<FoundReferrer[]>>
}

/** Signatures of signatures of …: no real chain is this deep; a source that claims one is cut here. */
const MAX_DEPTH = 8
/** Referrers of one image; a source listing more is refused rather than copied without end. */
export const MAX_REFERRERS = 1000

export function emptyTally(): ReferrerTally {
  return {copied: 0, present: 0, planned: [], held: []}
}

/**
 * A referrer as the lock names it: its digest, or `tag@digest` for one held by a cosign tag (the
 * tag is where --frozen puts it back, and a new signature moves the tag). Pure.
 */
export function referrerItem({descriptor, tag}: FoundReferrer): string {
  return tag ? `${tag}@${descriptor.digest}` : descriptor.digest
}

/**
 * Copies the referrers of `subject` (present at `destination`) and theirs. `copyContents` puts
 * what a manifest references at the destination (copy-image's walk: blobs, child manifests).
 */
export async function copyReferrers(
  subject: string,
  source: ImageSource,
  destination: ImageDestination,
  context: ReferrerContext,
  copyContents: (manifest: FetchedManifest) => Promise<void>,
  tally: ReferrerTally,
): Promise<void> {
  if (!source.referrers) return
  const find = source.referrers.bind(source)
  const wanted = context.referrerArtifactTypes ?? []
  const signal = context.signal
  const seen = new Set<string>([subject])
  const locked = context.lockedReferrers
  const matched = new Set<string>()

  const walk = async (digest: string, depth: number): Promise<void> => {
    const found = await (context.asked?.get(digest) ?? find(digest, wanted, signal))
    const listed: ReferrerDescriptor[] = []
    let indexedByRegistry = false
    for (const current of found) {
      const key = current.tag ?? current.descriptor.digest
      if (seen.has(key)) continue
      seen.add(key)
      if (seen.size > MAX_REFERRERS) {
        throw new FerryError(
          'TOO_MANY_REFERRERS',
          `${source.name}@${subject}: more than ${MAX_REFERRERS} referrers; copy them with --referrers=false and another tool`,
        )
      }
      const referrer = locked ? await lockedForm(current, locked, source, signal) : current
      // Not copied as the source has it now: a new referrer, or a cosign tag's new digest.
      if (referrer !== current) (tally.unlocked ??= []).push(referrerItem(current))
      if (!referrer) continue
      if (locked) matched.add(referrerItem(referrer))
      const {descriptor, tag} = referrer
      const head = await destination.headManifest(tag ?? descriptor.digest, signal)
      if (head?.digest === descriptor.digest) tally.present++
      else if (context.dryRun) tally.planned.push(`${describeReferrer(referrer)}${depth > 0 ? ` of ${digest}` : ''}`)
      else indexedByRegistry = (await copyOne(referrer)) || indexedByRegistry
      if (head?.digest === descriptor.digest || !context.dryRun) tally.held.push(referrerItem(referrer))
      if (!tag) listed.push(descriptor)
      if (depth + 1 < MAX_DEPTH) await walk(descriptor.digest, depth + 1)
    }
    if (listed.length > 0 && !context.dryRun && !indexedByRegistry) await keepIndexed(digest, listed, destination, context)
    if (listed.length > 0 && context.dryRun && context.checkIndex)
      (tally.unlisted ??= []).push(...(await unlisted(digest, listed, destination, context.signal)))
  }

  /** One referrer, what it references first; true when the registry said it indexes it (OCI-Subject). */
  const copyOne = async ({descriptor, tag}: FoundReferrer): Promise<boolean> => {
    const manifest = await source.getManifest(descriptor.digest, signal)
    await copyContents(manifest)
    if (signal?.aborted) throw new FerryError('ABORTED', `${destination.name}@${descriptor.digest}: stopped before pushing the referrer`)
    tally.copied++
    if (tag) {
      await destination.putManifest(tag, manifest, signal)
      return false
    }
    if (!destination.pushReferrer) {
      await destination.putManifest(descriptor.digest, manifest, signal)
      return false
    }
    return (await destination.pushReferrer(descriptor.digest, manifest, signal)).subjectIndexed
  }

  await walk(subject, 0)
  const gone = [...(locked ?? [])].filter((item) => !matched.has(item))
  if (gone.length > 0) {
    throw new FerryError(
      'LOCKED_DIGEST_GONE',
      `${source.name}@${subject}: the locked referrer ${gone.join(', ')} is gone from the source; restore it there, or lock again with a run without --frozen`,
    )
  }
}

/**
 * --frozen: the referrer as the lock has it, or undefined when the lock does not name it. A
 * cosign tag that moved since (a signature added) is copied at its locked digest, which the
 * source must still hold.
 */
async function lockedForm(referrer: FoundReferrer, locked: ReadonlySet<string>, source: ImageSource, signal?: AbortSignal): Promise<FoundReferrer | undefined> {
  if (locked.has(referrerItem(referrer))) return referrer
  const {tag} = referrer
  const item = tag ? [...locked].find((entry) => entry.startsWith(`${tag}@`)) : undefined
  if (!item) return undefined
  const digest = item.slice(tag!.length + 1)
  // Absent: the walk's end names it as gone.
  if ((await source.headManifest(digest, signal))?.digest !== digest) return undefined
  return {tag, descriptor: {...referrer.descriptor, digest}}
}

/**
 * Sends the source's referrers lookups of `subjects` now, for copyReferrers to read later
 * (`ReferrerContext.asked`): on a far link each is a round trip the job would otherwise wait for
 * after its push. A lookup whose answer is never read (the push failed) costs that request only.
 */
export function askReferrers(
  subjects: readonly string[],
  source: ImageSource,
  context: Pick<ReferrerContext, 'referrerArtifactTypes' | 'signal'>,
): Map<string, Promise<FoundReferrer[]>> {
  const asked = new Map<string, Promise<FoundReferrer[]>>()
  if (!source.referrers) return asked
  for (const subject of subjects) {
    const lookup = source.referrers(subject, context.referrerArtifactTypes ?? [], context.signal)
    lookup.catch(() => undefined) // read (and thrown) by copyReferrers, or never needed
    asked.set(subject, lookup)
  }
  return asked
}

/** The referrers of `subject` at the source, recursively, as the lock names them (`ferry diff`). */
export async function sourceReferrers(subject: string, source: ImageSource, wanted: readonly string[], signal?: AbortSignal): Promise<string[]> {
  if (!source.referrers) return []
  const items: string[] = []
  const seen = new Set<string>([subject])
  const walk = async (digest: string, depth: number): Promise<void> => {
    for (const referrer of await source.referrers!(digest, wanted, signal)) {
      const key = referrer.tag ?? referrer.descriptor.digest
      if (seen.has(key)) continue
      seen.add(key)
      if (seen.size > MAX_REFERRERS) throw new FerryError('TOO_MANY_REFERRERS', `${source.name}@${subject}: more than ${MAX_REFERRERS} referrers`)
      items.push(referrerItem(referrer))
      if (depth + 1 < MAX_DEPTH) await walk(referrer.descriptor.digest, depth + 1)
    }
  }
  await walk(subject, 0)
  return items
}

/** How a dry run and `ferry verify` name a referrer. Pure. */
export function describeReferrer({descriptor, tag}: FoundReferrer): string {
  if (tag) return `${tag} (${descriptor.digest})`
  return `${descriptor.digest}${descriptor.artifactType ? ` (${descriptor.artifactType})` : ''}`
}

/** The referrers a destination without the referrers API holds but its fallback index does not list. */
async function unlisted(subject: string, referrers: ReferrerDescriptor[], destination: ImageDestination, signal?: AbortSignal): Promise<string[]> {
  const {readManifest, listsReferrers} = destination
  if (!readManifest || !listsReferrers || (await listsReferrers.call(destination, subject, signal))) return []
  const tag = fallbackTag(subject)
  const index = await readManifest.call(destination, tag, signal)
  return missingFromIndex(index?.bytes, referrers, `referrers index ${destination.name}:${tag}`).map(
    (digest) => `${digest} (not in ${destination.name}:${tag})`,
  )
}

function putIndex(destination: ImageDestination, tag: string, bytes: Buffer, signal?: AbortSignal): Promise<string> {
  return destination.putManifest(tag, {bytes, mediaType: OCI_INDEX, digest: sha256Digest(bytes), size: bytes.length}, signal)
}

/** CNCF Distribution 2.8 refuses an index naming a manifest the repository does not hold. */
function namesMissingManifest(error: unknown): boolean {
  return FerryError.is(error) && (error.code === 'MANIFEST_BLOB_UNKNOWN' || error.code === 'MANIFEST_UNKNOWN')
}

/** Merges attempts when a writer outside ferry replaces the index between its read and its write. */
const INDEX_ATTEMPTS = 3

/**
 * Makes `referrers` findable through the fallback tag index where the destination has no
 * referrers API. Concurrent updaters: every writer of one index in a run (and in a fleet, whose
 * FlightLock is Redis-backed) holds the same flight key while it reads, merges and writes; a
 * writer outside ferry is caught by reading the index again after the write and merging again
 * when an entry went missing.
 */
async function keepIndexed(subject: string, referrers: ReferrerDescriptor[], destination: ImageDestination, context: ReferrerContext): Promise<void> {
  const {readManifest, listsReferrers} = destination
  if (!readManifest || !listsReferrers) return
  const signal = context.signal
  if (await listsReferrers.call(destination, subject, signal)) return
  const tag = fallbackTag(subject)
  const what = `referrers index ${destination.name}:${tag}`
  await context.flights.exclusive(destination.flightKey, `referrers\u0000${destination.repository}\u0000${tag}`, async () => {
    for (let attempt = 1; ; attempt++) {
      const existing = await readManifest.call(destination, tag, signal)
      const merged = mergeReferrerIndex(existing?.bytes, referrers, what)
      if (merged.kind === 'unchanged') return
      await putIndex(destination, tag, merged.bytes, signal).catch(async (error: unknown) => {
        if (!existing || !namesMissingManifest(error)) throw error
        // A manifest the index names was deleted here (Distribution refuses an index naming it):
        // it is no referrer any more. Only entries whose manifest is gone are dropped.
        const listed = readIndex(existing.bytes, what)!
        const heads = await Promise.all(listed.map((entry) => destination.headManifest(entry.digest, signal)))
        const gone = listed.filter((entry, index) => heads[index]?.digest !== entry.digest).map((entry) => entry.digest)
        if (gone.length === 0) throw error
        const kept = mergeReferrerIndex(withoutEntries(existing.bytes, gone, what), referrers, what)
        if (kept.kind === 'push') await putIndex(destination, tag, kept.bytes, signal)
      })
      const after = await readManifest.call(destination, tag, signal)
      if (missingFromIndex(after?.bytes, referrers, what).length === 0) return
      if (attempt >= INDEX_ATTEMPTS) {
        throw new FerryError('REFERRERS_INDEX_LOST', `${what}: another writer replaced the index ${INDEX_ATTEMPTS} times while ferry added to it; run again`, {
          retryable: true,
        })
      }
    }
  })
}
