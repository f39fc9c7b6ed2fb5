/**
 * --prune's decisions for one destination repository, from what was listed and resolved. Pure.
 * Distribution deletes a manifest by digest, which takes every tag pointing to it: a tag whose
 * digest a kept tag shares (or a kept index names as a child) stays, and is reported.
 */

/** A destination tag and the manifest it points to. */
export interface ResolvedTag {
  tag: string
  digest: string
}

/** What a source listing tells prune: the tags it listed, and which tags its filters select. */
export interface ListingScope {
  tags: ReadonlySet<string>
  inScope: (tag: string) => boolean
}

/**
 * The destination tags the source no longer has: selected by some listing's filters, and listed by
 * none (a tag another rule's source still lists is not gone). Order kept.
 */
export function goneTags(destination: readonly string[], listings: readonly ListingScope[]): string[] {
  return destination.filter((tag) => listings.some((listing) => listing.inScope(tag)) && !listings.some((listing) => listing.tags.has(tag)))
}

/** The source tags the listings select, over all of them: none, and prune must not empty the destination. */
export function selectedAtSource(listings: readonly ListingScope[]): number {
  return listings.reduce((total, listing) => total + [...listing.tags].filter(listing.inScope).length, 0)
}

/**
 * The digest of the image a tag attaches to: cosign's `sha256-<hex>.sig`, `.att`, `.sbom`, and the
 * OCI referrers tag schema's `sha256-<hex>` (an index of referrers). Undefined for any other tag.
 */
export function attachedSubject(tag: string): string | undefined {
  const match = /^(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{128})(?:\.(?:sig|att|sbom))?$/.exec(tag)
  return match ? match[1]!.replace('-', ':') : undefined
}

export interface RepositoryPlan {
  /** Manifests to delete, each with the gone tags that point to it. */
  deletes: {digest: string; tags: string[]}[]
  /** Gone tags left in place, with the reason; `attached`: a signature or referrer index of a kept image, as meant. */
  kept: {tag: string; digest: string; reason: string; attached?: boolean}[]
}

/**
 * What to delete in one repository. `tags`: every destination tag with its digest; `gone`: those the
 * source no longer has; `children`: digests a kept index names, with that index's tag; `byTag`: the
 * registry removes a tag alone (Harbor's tag API), so a shared digest does not hold it back.
 */
export function planRepository(input: {
  tags: readonly ResolvedTag[]
  gone: ReadonlySet<string>
  children?: ReadonlyMap<string, string>
  byTag?: boolean
}): RepositoryPlan {
  // digest → a kept tag that holds it (or the index that names it as a child).
  const held = new Map<string, string>()
  for (const {tag, digest} of input.tags) if (!input.gone.has(tag) && !held.has(digest)) held.set(digest, `tag ${tag}`)
  for (const [digest, index] of input.children ?? []) if (!held.has(digest)) held.set(digest, `a child of tag ${index}`)
  const kept: RepositoryPlan['kept'] = []
  let candidates = input.tags.filter(({tag}) => input.gone.has(tag))
  // A signature or referrer index of a kept image stays with it, and then holds its own digest.
  for (let changed = true; changed;) {
    changed = false
    for (const candidate of candidates) {
      const subject = attachedSubject(candidate.tag)
      if (subject === undefined || !held.has(subject)) continue
      kept.push({...candidate, reason: `it attaches to ${subject} (${held.get(subject)}), which stays`, attached: true})
      if (!held.has(candidate.digest)) held.set(candidate.digest, `tag ${candidate.tag}`)
      candidates = candidates.filter((other) => other !== candidate)
      changed = true
      break
    }
  }
  const deletes = new Map<string, string[]>()
  for (const candidate of candidates) {
    const holder = input.byTag ? undefined : held.get(candidate.digest)
    if (holder) {
      kept.push({...candidate, reason: `its digest is also ${holder}, which stays, and the registry deletes by digest (every tag at once)`})
      continue
    }
    deletes.set(candidate.digest, [...(deletes.get(candidate.digest) ?? []), candidate.tag])
  }
  return {deletes: [...deletes].map(([digest, tags]) => ({digest, tags})), kept}
}
