/**
 * `save --platform`: from a multi-arch image, only the manifest of one platform is saved under
 * the tag. The registry source is wrapped so that a tag naming an index reads as the chosen
 * child; the copier then copies that image like any other. A rule by digest names one manifest
 * exactly and is saved as it is. The platform is parsed, formatted and matched by select/platforms.ts.
 */
import {FerryError} from '../errors.js'
import type {FetchedManifest, ManifestHead} from '../registry/manifests.js'
import {DOCKER_MANIFEST, OCI_MANIFEST, parseManifest, type Descriptor} from '../registry/media-types.js'
import {formatPlatform, pickPlatform, type Platform} from '../select/platforms.js'
import type {BlobReadOptions, EndpointResolver, FoundReferrer, ImageSource} from '../transfer/endpoints.js'

class PlatformSource implements ImageSource {
  readonly name: string
  readonly repository: string
  readonly scope: string

  constructor(
    private readonly inner: ImageSource,
    private readonly platform: Platform,
  ) {
    this.name = inner.name
    this.repository = inner.repository
    this.scope = inner.scope
  }

  async headManifest(reference: string, signal?: AbortSignal): Promise<ManifestHead | undefined> {
    const head = await this.inner.headManifest(reference, signal)
    // A single image (by its HEAD's media type) needs no look inside.
    if (!head || isDigest(reference) || IMAGE_TYPES.has(head.mediaType)) return head
    const child = await this.child(reference, signal)
    return child ? {digest: child.digest, mediaType: child.mediaType, size: child.size} : head
  }

  async getManifest(reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    if (isDigest(reference)) return this.inner.getManifest(reference, signal)
    const child = await this.child(reference, signal)
    return child ? this.inner.getManifest(child.digest, signal) : this.inner.getManifest(reference, signal)
  }

  openBlob(descriptor: Descriptor, signal?: AbortSignal, options?: BlobReadOptions) {
    return this.inner.openBlob(descriptor, signal, options)
  }

  /** The chosen platform's manifest is saved as it is: its own referrers (a signature over its digest) come with it. */
  referrers(digest: string, wanted: readonly string[], signal?: AbortSignal): Promise<FoundReferrer[]> {
    return this.inner.referrers ? this.inner.referrers(digest, wanted, signal) : Promise.resolve([])
  }

  /** The platform's entry when `reference` names an index; undefined for a single image. */
  private async child(reference: string, signal?: AbortSignal): Promise<Descriptor | undefined> {
    const manifest = await this.inner.getManifest(reference, signal)
    const parsed = parseManifest(manifest.bytes, manifest.mediaType, `${this.name}:${reference}`)
    if (parsed.kind !== 'index') return undefined
    const child = pickPlatform(parsed.manifests, this.platform)
    if (!child) {
      const has = parsed.manifests.map((entry) => formatPlatform(entry.platform)).join(', ')
      throw new FerryError('PLATFORM_NOT_FOUND', `${this.name}:${reference} has no ${formatPlatform(this.platform)} image (it has ${has})`)
    }
    return child
  }
}

const IMAGE_TYPES = new Set([DOCKER_MANIFEST, OCI_MANIFEST])

function isDigest(reference: string): boolean {
  return reference.includes(':')
}

/** Wraps the source side of every job (the registries a save reads) to choose one platform. */
export function platformSources(platform: Platform): (resolver: EndpointResolver) => EndpointResolver {
  return (resolver) => ({
    source: (location) => new PlatformSource(resolver.source(location), platform),
    destination: (location) => resolver.destination(location),
  })
}
