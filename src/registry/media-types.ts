import {FerryError} from '../errors.js'
import {checkDigest} from '../names.js'

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const DOCKER_SCHEMA1 = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws']

/** Schema 1 is left out on purpose: asking for it makes some registries convert and re-sign. */
export const MANIFEST_ACCEPT = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ')

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  urls?: string[]
  platform?: {architecture?: string; os?: string; variant?: string}
  annotations?: Record<string, string>
}

export type ParsedManifest =
  {kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[]} | {kind: 'index'; mediaType: string; manifests: Descriptor[]}

/**
 * Reads what a manifest references. The media type comes from Content-Type, or from the
 * document's own mediaType field when a registry sends a generic one. Pure.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what: string): ParsedManifest {
  let doc: {schemaVersion?: unknown; mediaType?: unknown; config?: unknown; layers?: unknown; manifests?: unknown}
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new FerryError('MANIFEST_INVALID', `${what}: manifest is not JSON`)
  }
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined
  const header = contentType?.split(';')[0].trim()
  const mediaType = header && header !== 'application/json' && header !== 'text/plain' ? header : (declared ?? inferMediaType(doc))
  if (doc.schemaVersion === 1 || DOCKER_SCHEMA1.includes(mediaType ?? '')) {
    throw new FerryError(
      'UNSUPPORTED_MEDIA_TYPE',
      `${what}: a Docker schema 1 manifest, which ferry does not copy (Docker removed schema 1); convert it at the source with \`skopeo copy --format v2s2 docker://IMAGE docker://IMAGE\` or re-push the image with a current docker, then run again`,
    )
  }
  if (mediaType === DOCKER_MANIFEST_LIST || mediaType === OCI_INDEX) {
    return {kind: 'index', mediaType, manifests: descriptors(doc.manifests, what, 'manifests')}
  }
  if (mediaType === DOCKER_MANIFEST || mediaType === OCI_MANIFEST) {
    const [config] = descriptors([doc.config], what, 'config')
    return {kind: 'image', mediaType, config, layers: descriptors(doc.layers ?? [], what, 'layers')}
  }
  throw new FerryError('UNSUPPORTED_MEDIA_TYPE', `${what}: unsupported manifest media type ${JSON.stringify(mediaType ?? 'none')}`)
}

/** OCI allows an index or manifest without mediaType; its shape tells which. */
function inferMediaType(doc: {manifests?: unknown; config?: unknown}): string | undefined {
  if (Array.isArray(doc.manifests)) return OCI_INDEX
  if (doc.config) return OCI_MANIFEST
  return undefined
}

function descriptors(value: unknown, what: string, field: string): Descriptor[] {
  if (!Array.isArray(value)) throw new FerryError('MANIFEST_INVALID', `${what}: manifest lists no descriptors where it must`)
  return value.map((item, position) => {
    const d = item as Partial<Descriptor> | undefined
    if (!d || typeof d.digest !== 'string' || typeof d.size !== 'number' || typeof d.mediaType !== 'string') {
      throw new FerryError('MANIFEST_INVALID', `${what}: manifest holds a descriptor without digest, size or mediaType`)
    }
    // A digest goes into blob and manifest URLs and layout paths, and ferry must be able to verify it.
    checkDigest(d.digest, `${what}: ${field === 'config' ? field : `${field}[${position}]`} digest`)
    return d as Descriptor
  })
}

/**
 * Foreign layers (Windows base layers) live at URLs outside the registry and may not be
 * redistributed; like docker and skopeo, ferry copies the manifest that names them, not the bytes.
 */
export function isForeignLayer(descriptor: Descriptor): boolean {
  return (descriptor.urls?.length ?? 0) > 0 || descriptor.mediaType.includes('foreign') || descriptor.mediaType.includes('nondistributable')
}

/**
 * The blobs an image manifest has ferry copy (config, then layers): each once, foreign layers left
 * out unless `nondistributable` (--include-nondistributable: read from the source registry). Pure.
 */
export function copiedBlobs(image: {config: Descriptor; layers: Descriptor[]}, options: {nondistributable?: boolean} = {}): Descriptor[] {
  const seen = new Set<string>()
  return [image.config, ...image.layers].filter((descriptor) => {
    if ((!options.nondistributable && isForeignLayer(descriptor)) || seen.has(descriptor.digest)) return false
    seen.add(descriptor.digest)
    return true
  })
}
