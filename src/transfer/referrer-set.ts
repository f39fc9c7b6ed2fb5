/**
 * Which referrers travel with an image, and the fallback tag index ferry keeps for them at a
 * destination without the referrers API. Pure: the copy (copy-referrers.ts) asks the registries
 * and hands the answers here.
 */
import {OCI_INDEX} from '../registry/media-types.js'
import {readIndex, type ReferrerDescriptor} from '../registry/referrers.js'

/**
 * cosign's tag scheme (before OCI 1.1 referrers): `sha256-<hex>.sig`, `.att`, `.sbom` in the
 * image's repository. Their manifests name no subject; the artifact type each one stands for is
 * the one cosign gives the same artifact as an OCI 1.1 referrer, so --referrers-artifact-type
 * selects both forms alike.
 */
export const COSIGN_TAGS = {
  sig: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  att: 'application/vnd.dev.cosign.artifact.att.v1+json',
  sbom: 'application/vnd.dev.cosign.artifact.sbom.v1+json',
} as const

/** cosign's tags for a digest: `sha256:abc` → `sha256-abc.sig` and the others, with their artifact types. Pure. */
export function cosignTags(digest: string): {tag: string; artifactType: string}[] {
  const base = digest.replace(':', '-')
  return Object.entries(COSIGN_TAGS).map(([suffix, artifactType]) => ({tag: `${base}.${suffix}`, artifactType}))
}

const REFERRER_TAG = /^(?:sha256-[0-9a-f]{64}|sha512-[0-9a-f]{128})(?:\.(?:sig|att|sbom))?$/

/**
 * A tag of the fallback scheme or of cosign's: with referrers on, such a tag travels with the
 * image it names and is left out of tag listings (a job of its own would copy the source's
 * fallback index over the one ferry keeps at the destination). Pure.
 */
export function isReferrerTag(tag: string): boolean {
  return REFERRER_TAG.test(tag)
}

/**
 * The referrers of the wanted artifact types (all when `wanted` is empty). A registry that says
 * in `OCI-Filters-Applied` that it filtered by artifact type for the one type asked is believed;
 * any other answer is filtered here. Pure.
 */
export function keepReferrers<T extends {artifactType?: string}>(
  referrers: readonly T[],
  wanted: readonly string[] = [],
  filtersApplied: readonly string[] = [],
): T[] {
  if (wanted.length === 0) return [...referrers]
  if (wanted.length === 1 && filtersApplied.includes('artifactType')) return [...referrers]
  return referrers.filter((referrer) => referrer.artifactType !== undefined && wanted.includes(referrer.artifactType))
}

/** A fallback index to push, or `unchanged` when every referrer is listed already. */
export type MergedIndex = {kind: 'unchanged'} | {kind: 'push'; bytes: Buffer; mediaType: string; added: number}

/**
 * The fallback index `<alg>-<hex>` with `referrers` added: every entry already there is kept as
 * it is and where it is (written by others, of artifact types not copied, not known to ferry),
 * new ones are appended once by digest. `existing` undefined: no index yet. Pure.
 */
export function mergeReferrerIndex(existing: Buffer | undefined, referrers: readonly ReferrerDescriptor[], what: string): MergedIndex {
  // Checked first, so something tagged there that is no index is never rewritten as if it were one.
  const listed = existing ? readIndex(existing, what)! : []
  const doc = existing ? (JSON.parse(existing.toString('utf8')) as Record<string, unknown>) : {schemaVersion: 2, mediaType: OCI_INDEX, manifests: []}
  const known = new Set(listed.map((descriptor) => descriptor.digest))
  const added = referrers.filter((referrer) => !known.has(referrer.digest) && known.add(referrer.digest))
  if (added.length === 0) return {kind: 'unchanged'}
  const manifests = [...(doc.manifests as unknown[]), ...added.map(indexEntry)]
  return {kind: 'push', bytes: Buffer.from(JSON.stringify({...doc, mediaType: OCI_INDEX, manifests})), mediaType: OCI_INDEX, added: added.length}
}

/**
 * The fallback index without the entries of `gone` (manifests deleted where it lives), every
 * other entry and field kept as it is. Pure.
 */
export function withoutEntries(existing: Buffer, gone: readonly string[], what: string): Buffer {
  readIndex(existing, what)
  const doc = JSON.parse(existing.toString('utf8')) as {manifests: {digest?: unknown}[]}
  return Buffer.from(JSON.stringify({...doc, manifests: doc.manifests.filter((entry) => !gone.includes(entry.digest as string))}))
}

/** The digests of `referrers` an index does not list: what a concurrent writer dropped. Pure. */
export function missingFromIndex(index: Buffer | undefined, referrers: readonly ReferrerDescriptor[], what: string): string[] {
  const listed = new Set((index ? readIndex(index, what)! : []).map((descriptor) => descriptor.digest))
  return referrers.map((referrer) => referrer.digest).filter((digest) => !listed.has(digest))
}

/** The descriptor as the spec's fallback index holds it: what a client needs to pick and fetch it. */
function indexEntry(referrer: ReferrerDescriptor): ReferrerDescriptor {
  return {
    mediaType: referrer.mediaType,
    digest: referrer.digest,
    size: referrer.size,
    ...(referrer.artifactType ? {artifactType: referrer.artifactType} : {}),
    ...(referrer.annotations ? {annotations: referrer.annotations} : {}),
  }
}
