/**
 * A referrer as a layout keeps it: its manifest in blobs/, listed in index.json without a ref
 * name (it is no image of its own; oras does the same), and linked to its image by the `subject`
 * its own bytes state. Pure: the layout reads the bytes and hands them here.
 */
import {checkDigest} from '../names.js'
import {referrerDescriptor, type ReferrerDescriptor} from '../registry/referrers.js'

export interface LayoutReferrer {
  /** The digest of the manifest it refers to. */
  subject: string
  /** As the referrers API would list it: artifactType (else the config's media type) and annotations from the manifest. */
  descriptor: ReferrerDescriptor
}

/** What a manifest says of itself as a referrer; undefined when it names no subject. */
export function referrerOf(bytes: Buffer, entry: {mediaType: string; digest: string; size: number}, what: string): LayoutReferrer | undefined {
  let doc: {subject?: {digest?: unknown}; artifactType?: unknown; config?: {mediaType?: unknown}; annotations?: unknown}
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc
  } catch {
    return undefined
  }
  if (!doc || typeof doc !== 'object' || !doc.subject || typeof doc.subject !== 'object') return undefined
  const subject = checkDigest(doc.subject.digest, `${what}: subject digest`)
  // The distribution spec's rule for the referrers API: artifactType, else the config's media type.
  const artifactType = doc.artifactType ?? (doc.config && typeof doc.config === 'object' ? doc.config.mediaType : undefined)
  const descriptor = referrerDescriptor(
    {mediaType: entry.mediaType, digest: entry.digest, size: entry.size, ...(artifactType !== undefined ? {artifactType} : {}), annotations: doc.annotations},
    what,
  )
  return {subject, descriptor}
}
