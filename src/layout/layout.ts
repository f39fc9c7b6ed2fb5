/**
 * An OCI image layout opened for a run: its blob store and its one index.json writer, and the
 * repositories of it that the copier reads and writes (an ImageSource and an ImageDestination
 * like a registry repository). Jobs name the layout side with LAYOUT_REGISTRY, which the
 * endpoints wrapper below resolves to this folder, so it never reaches a client or the network.
 */
import type {Readable} from 'node:stream'

import {FerryError} from '../errors.js'
import type {ImageReference} from '../reference.js'
import type {FetchedManifest, ManifestHead} from '../registry/manifests.js'
import {parseManifest, type Descriptor} from '../registry/media-types.js'
import type {BlobBody, BlobReadOptions, BlobWriteOptions, EndpointResolver, ImageDestination, ImageSource} from '../transfer/endpoints.js'
import {BlobStore} from './blob-store.js'
import {IndexWriter} from './index-file.js'
import {sniffMediaType} from './media-type.js'
import {checkLayout, prepareLayout, removeTemporaries} from './paths.js'
import {refNameFor} from './ref-name.js'

/**
 * The registry name of the layout side of a job. `.invalid` is reserved (RFC 2606) and never
 * resolves, so it cannot be a real registry; the wrapper catches it before any client would.
 */
export const LAYOUT_REGISTRY = 'oci-layout.invalid'

export class ImageLayout {
  readonly store: BlobStore
  /** Called once for each image a run adds to index.json. */
  onSaved?: (refName: string, descriptor: Descriptor) => void

  private constructor(
    readonly root: string,
    readonly index: IndexWriter,
  ) {
    this.store = new BlobStore(root)
  }

  /** For writing: makes the folder a layout if needed and clears what a killed run left behind. */
  static async forWriting(root: string): Promise<ImageLayout> {
    await prepareLayout(root)
    await removeTemporaries(root)
    return new ImageLayout(root, await IndexWriter.open(root))
  }

  /** For reading: the folder must already be a layout; nothing in it is changed. */
  static async forReading(root: string): Promise<ImageLayout> {
    await checkLayout(root)
    return new ImageLayout(root, await IndexWriter.open(root))
  }

  /** The media type index.json gives a digest, if an entry has it. */
  mediaTypeOf(digest: string): string | undefined {
    return this.index.mediaTypeOf(digest)
  }

  repository(location: ImageReference): LayoutRepository {
    return new LayoutRepository(this, location)
  }
}

/**
 * One image of a layout, as the copier sees it. The top manifest of the job's location is an
 * index.json entry (ref name `repository:tag`, or `repository@digest` without a tag); anything
 * else is a blob found by digest, so children of an index and every layer are shared by all
 * images of the layout and stored once.
 */
export class LayoutRepository implements ImageSource, ImageDestination {
  readonly name: string
  readonly repository: string
  readonly scope: string
  readonly flightKey: string
  private readonly topReference?: string
  private readonly refName?: string

  constructor(
    private readonly layout: ImageLayout,
    location: ImageReference,
  ) {
    this.repository = location.repository
    this.name = `${layout.root}:${location.repository}`
    this.scope = `layout:${layout.root}`
    this.flightKey = this.scope
    this.topReference = location.tag ?? location.digest
    if (this.topReference !== undefined) this.refName = refNameFor(location.repository, location)
  }

  async headManifest(reference: string, _signal?: AbortSignal): Promise<ManifestHead | undefined> {
    if (reference === this.topReference && this.refName !== undefined) {
      const entry = this.layout.index.find(this.refName)
      if (!entry || !(await this.layout.store.has(entry.digest))) return undefined
      return {digest: entry.digest, mediaType: entry.mediaType, size: entry.size}
    }
    if (!reference.includes(':')) return undefined
    // A manifest blob is committed only after everything it references, so its presence says the image under it is whole.
    if (!(await this.layout.store.has(reference))) return undefined
    return {digest: reference, mediaType: this.layout.mediaTypeOf(reference) ?? '', size: 0}
  }

  async getManifest(reference: string, _signal?: AbortSignal): Promise<FetchedManifest> {
    let digest = reference
    if (!reference.includes(':')) {
      const entry = this.layout.index.find(refNameFor(this.repository, {tag: reference}))
      if (!entry)
        throw new FerryError('MANIFEST_UNKNOWN', `layout ${this.layout.root}: no image ${refNameFor(this.repository, {tag: reference})} in index.json`)
      digest = entry.digest
    }
    const bytes = await this.layout.store.read(digest, this.layout.index.sizeOf(digest))
    return {bytes, digest, mediaType: this.layout.mediaTypeOf(digest) ?? sniffMediaType(bytes), size: bytes.length}
  }

  openBlob(descriptor: Descriptor, _signal?: AbortSignal, options: BlobReadOptions = {}): Promise<Readable> {
    return this.layout.store.open(descriptor.digest, descriptor.size, options.offset)
  }

  hasBlob(digest: string, _signal?: AbortSignal): Promise<boolean> {
    return this.layout.store.has(digest)
  }

  async writeBlob(descriptor: Descriptor, body: BlobBody, options: BlobWriteOptions): Promise<void> {
    return this.layout.store.write(descriptor.digest, await body(), options.signal)
  }

  async putManifest(reference: string, manifest: FetchedManifest, _signal?: AbortSignal): Promise<string> {
    // The bytes as the registry served them, so a load pushes back the same digest.
    await this.layout.store.writeBytes(manifest.digest, manifest.bytes)
    if (reference !== this.topReference || this.refName === undefined) return manifest.digest
    // A registry may label a manifest application/json; the entry carries its real type.
    const {mediaType} = parseManifest(manifest.bytes, manifest.mediaType, `${this.refName}@${manifest.digest}`)
    const descriptor = {mediaType, digest: manifest.digest, size: manifest.bytes.length}
    await this.layout.index.put(descriptor, this.refName)
    this.layout.onSaved?.(this.refName, descriptor)
    return manifest.digest
  }
}

/**
 * Wraps the registry resolver so that one side of the jobs, where they name LAYOUT_REGISTRY, is
 * `layout`. Only that side: on the other a host of that name still goes to the registry resolver.
 */
export function layoutEndpoints(layout: ImageLayout, side: 'source' | 'destination'): (registries: EndpointResolver) => EndpointResolver {
  return (registries) => ({
    source: (location) => (side === 'source' && location.registry === LAYOUT_REGISTRY ? layout.repository(location) : registries.source(location)),
    destination: (location) =>
      side === 'destination' && location.registry === LAYOUT_REGISTRY ? layout.repository(location) : registries.destination(location),
  })
}
