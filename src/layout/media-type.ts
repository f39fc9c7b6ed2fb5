import {DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST} from '../registry/media-types.js'

/**
 * The media type of a manifest read from a layout without its index entry (a child of an
 * index): its own `mediaType` field, else what its shape says (OCI allows leaving it out). Pure.
 */
export function sniffMediaType(bytes: Buffer): string {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as {mediaType?: unknown; manifests?: unknown; config?: unknown}
    if (typeof doc.mediaType === 'string' && doc.mediaType !== '') return doc.mediaType
    if (Array.isArray(doc.manifests)) return OCI_INDEX
    if (doc.config) return OCI_MANIFEST
  } catch {
    // parseManifest reports what is wrong with it, naming the manifest.
  }
  return OCI_MANIFEST
}

export const MANIFEST_TYPES = new Set([DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST])
