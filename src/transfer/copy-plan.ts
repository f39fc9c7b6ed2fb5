/**
 * What the copy of one image does at each destination, decided before anything is written: from
 * what the HEADs said, the source manifest and the options. Pure; copy-image.ts asks the
 * registries, hands the answers here and performs what comes back. Two steps, because the first
 * spares a job with nothing to do the GET of its manifest: `planFromHeads` settles what the HEADs
 * alone settle, `planFromManifest` the rest once the manifest (and its platform subset) is known.
 */
import type {UserSettings} from '../settings.js'

export type SkipReason = 'same digest' | 'tag exists' | 'platform not selected'

/** What the HEAD of one destination reference said. */
export type DestinationHead = {kind: 'absent'} | {kind: 'present'; digest: string} | {kind: 'unreachable'; error: unknown}

export interface PlannedDestination {
  head: DestinationHead
  /** The rule writes a tag here: one that exists may be kept from moving (`overwriteTags: false`). */
  tagged: boolean
  /** The digest the rule names for this destination, which the source must have. */
  pinned?: string
}

/** The settings the plan reads (src/settings.ts documents each). */
export interface PlanOptions extends Pick<UserSettings, 'deep' | 'dryRun' | 'overwriteTags'> {
  /** --platform (or the job's platforms) asks for a subset of an index. */
  subsetting: boolean
}

/** A destination done with, as the report shows it. `digest` is the source's top manifest ('' when unknown). */
export type Settled =
  | {kind: 'failed'; error: unknown}
  | {kind: 'skip'; reason: SkipReason; digest: string; destinationDigest?: string; note?: string}
  | {kind: 'planned'; digest: string; note: string}

/** A destination that is written to: what the manifest references, and for `copy` the manifest itself. */
export type Work = {kind: 'repair'; note?: string} | {kind: 'copy'; note?: string}

export type Decision = Settled | Work

/** What --platform made of the source manifest; `all` when no platforms were asked for. */
export type PlatformSubset = {kind: 'all'} | {kind: 'keep'; digest: string; note?: string} | {kind: 'leave'; note: string}

/**
 * From the HEADs alone. `sourceDigest` is what the source HEAD (or the rule's pin) said, undefined
 * when it found nothing. `fetch`: the destination needs the manifest to be decided.
 */
export function planFromHeads(
  sourceDigest: string | undefined,
  destinations: readonly PlannedDestination[],
  options: PlanOptions,
): (Settled | {kind: 'fetch'})[] {
  return destinations.map(({head, tagged}) => {
    if (head.kind === 'unreachable') return {kind: 'failed', error: head.error}
    // A subset's digest is only known from the manifest: nothing is settled before it.
    if (options.subsetting || head.kind === 'absent') return {kind: 'fetch'}
    if (!options.deep && head.digest === sourceDigest) {
      return {kind: 'skip', reason: 'same digest', digest: sourceDigest, destinationDigest: head.digest}
    }
    if (head.digest !== sourceDigest && options.overwriteTags === false && tagged) {
      // Immutable-tag registries and mirrors under running clusters: an existing tag stays as it is.
      return {kind: 'skip', reason: 'tag exists', digest: sourceDigest ?? '', destinationDigest: head.digest}
    }
    return {kind: 'fetch'}
  })
}

/** The first digest a destination's rule names that the source manifest does not have. */
export function pinnedElsewhere(destinations: readonly PlannedDestination[], sourceDigest: string): string | undefined {
  return destinations.find((destination) => destination.pinned && destination.pinned !== sourceDigest)?.pinned
}

/** The decisions for the destinations `planFromHeads` left open, once the source manifest is fetched. */
export function planFromManifest(
  sourceDigest: string,
  selection: PlatformSubset,
  destinations: readonly PlannedDestination[],
  options: PlanOptions,
): Decision[] {
  if (selection.kind === 'leave') {
    return destinations.map(() => ({kind: 'skip', reason: 'platform not selected', digest: sourceDigest, note: selection.note}))
  }
  // What the destination holds after a copy: the subset's digest, so a re-run compares with it.
  const target = selection.kind === 'keep' ? selection.digest : sourceDigest
  const note = selection.kind === 'keep' && selection.digest !== sourceDigest ? selection.note : undefined
  const noted = note ? {note} : {}
  return destinations.map(({head, tagged}): Decision => {
    const at = head.kind === 'present' ? head.digest : undefined
    if (selection.kind === 'keep' && at && at !== target && options.overwriteTags === false && tagged) {
      return {kind: 'skip', reason: 'tag exists', digest: sourceDigest, destinationDigest: at, ...noted}
    }
    if (at === target) {
      if (!options.deep || options.dryRun) return {kind: 'skip', reason: 'same digest', digest: sourceDigest, destinationDigest: target, ...noted}
      return {kind: 'repair', ...noted}
    }
    if (options.dryRun) {
      const change = at ? `moves the tag from ${at}` : 'new at the destination'
      return {kind: 'planned', digest: sourceDigest, note: note ? `${change}; ${note}` : change}
    }
    return {kind: 'copy', ...noted}
  })
}
