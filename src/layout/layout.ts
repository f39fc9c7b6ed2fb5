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
import {fallbackTag, readIndex, type ReferrerDescriptor} from '../registry/referrers.js'
import type {BlobBody, BlobReadOptions, BlobWriteOptions, EndpointResolver, FoundReferrer, ImageDestination, ImageSource} from '../transfer/endpoints.js'
import {cosignTags, isReferrerTag, keepReferrers} from '../transfer/referrer-set.js'
import {BlobStore} from './blob-store.js'
import {IndexWriter, refNameOf, type IndexEntry} from './index-file.js'
import {sniffMediaType} from './media-type.js'
import {checkLayout, prepareLayout, removeTemporaries} from './paths.js'
import {refNameFor} from './ref-name.js'
import {referrerOf} from './referrer-entry.js'

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

  /** Subject digest → the referrers index.json lists without a ref name; read once, when first asked. */
  private referrers?: Promise<Map<string, ReferrerDescriptor[]>>

  /** The referrers the layout keeps of a manifest: those of its unnamed entries whose `subject` names it. */
  async referrersOf(digest: string): Promise<ReferrerDescriptor[]> {
    this.referrers ??= this.readReferrers()
    return (await this.referrers).get(digest) ?? []
  }

  /** A referrer stored: listed in index.json without a ref name (its blob is already there). */
  async addReferrer(descriptor: ReferrerDescriptor): Promise<void> {
    await this.index.put({mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, artifactType: descriptor.artifactType})
    this.referrers = undefined
  }

  /**
   * The index.json entries that travel with an image instead of loading as one: the referrers
   * (no ref name, a `subject`), and with `tags` (referrers on) the entries of the fallback and
   * cosign tag schemes whose image is in the layout.
   */
  async travelling(tags: boolean): Promise<Set<IndexEntry>> {
    const out = new Set<IndexEntry>()
    for (const entry of this.index.current()) {
      const name = refNameOf(entry)
      if (name === undefined) {
        if ((await this.referrerEntry(entry)) !== undefined) out.add(entry)
        continue
      }
      const tag = /:([^:/@]+)$/.exec(name)?.[1]
      if (!tags || tag === undefined || !isReferrerTag(tag)) continue
      const subject = tag.replace(/\..*$/, '').replace('-', ':')
      if (await this.store.has(subject)) out.add(entry)
    }
    return out
  }

  private async readReferrers(): Promise<Map<string, ReferrerDescriptor[]>> {
    const bySubject = new Map<string, ReferrerDescriptor[]>()
    for (const entry of this.index.current()) {
      if (refNameOf(entry) !== undefined) continue
      const found = await this.referrerEntry(entry)
      if (found) bySubject.set(found.subject, [...(bySubject.get(found.subject) ?? []), found.descriptor])
    }
    return bySubject
  }

  /**
   * An unnamed entry read as a referrer; undefined for anything else (another tool's auxiliary
   * descriptor) and for one that cannot be read: a load then says it did not load that entry.
   */
  private async referrerEntry(entry: IndexEntry): Promise<ReturnType<typeof referrerOf>> {
    if (!entry.mediaType.endsWith('+json') || !(await this.store.has(entry.digest))) return undefined
    try {
      return referrerOf(await this.store.read(entry.digest, entry.size), entry, `layout ${this.root}: index.json entry ${entry.digest}`)
    } catch (error) {
      if (FerryError.is(error)) return undefined
      throw error
    }
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
    if (!reference.includes(':')) {
      // A tag other than the job's own: a referrer's (cosign's `sha256-<hex>.sig`).
      const entry = this.layout.index.find(refNameFor(this.repository, {tag: reference}))
      if (!entry || !(await this.layout.store.has(entry.digest))) return undefined
      return {digest: entry.digest, mediaType: entry.mediaType, size: entry.size}
    }
    // A manifest blob is committed only after everything it references, so its presence says the image under it is whole.
    if (!(await this.layout.store.has(reference))) return undefined
    const mediaType = this.layout.mediaTypeOf(reference)
    // A referrer is whole once index.json lists it too: one whose blob a stopped save left unlisted is stored again.
    if (mediaType === undefined && (await this.isReferrer(reference))) return undefined
    return {digest: reference, mediaType: mediaType ?? '', size: 0}
  }

  private async isReferrer(digest: string): Promise<boolean> {
    const bytes = await this.layout.store.read(digest)
    return referrerOf(bytes, {mediaType: sniffMediaType(bytes), digest, size: bytes.length}, `${this.name}@${digest}`) !== undefined
  }

  /**
   * The referrers the layout keeps of `digest`: unnamed entries whose manifest names it as
   * `subject`, cosign's tags in this repository, and a fallback tag index `<alg>-<hex>` (what
   * regctl writes into a layout).
   */
  async referrers(digest: string, wanted: readonly string[], _signal?: AbortSignal): Promise<FoundReferrer[]> {
    const found: ReferrerDescriptor[] = [...(await this.layout.referrersOf(digest))]
    const index = this.layout.index.find(refNameFor(this.repository, {tag: fallbackTag(digest)}))
    if (index && (await this.layout.store.has(index.digest))) {
      const listed = readIndex(await this.layout.store.read(index.digest, index.size), `${this.name}:${fallbackTag(digest)}`)!
      found.push(...listed.filter((descriptor) => !found.some((known) => known.digest === descriptor.digest)))
    }
    const out: FoundReferrer[] = keepReferrers(found, wanted).map((descriptor) => ({descriptor}))
    for (const {tag, artifactType} of cosignTags(digest)) {
      if (wanted.length > 0 && !wanted.includes(artifactType)) continue
      const entry = this.layout.index.find(refNameFor(this.repository, {tag}))
      if (entry) out.push({descriptor: {mediaType: entry.mediaType, digest: entry.digest, size: entry.size, artifactType}, tag})
    }
    return out
  }

  /** The layout lists referrers itself (index.json), so no fallback tag index is kept for it. */
  async listsReferrers(_digest: string, _signal?: AbortSignal): Promise<boolean> {
    return true
  }

  async pushReferrer(reference: string, manifest: FetchedManifest, signal?: AbortSignal): Promise<{digest: string; subjectIndexed: boolean}> {
    const digest = await this.putManifest(reference, manifest, signal)
    const what = `${this.name}@${manifest.digest}`
    const {mediaType} = parseManifest(manifest.bytes, manifest.mediaType, what)
    const referrer = referrerOf(manifest.bytes, {mediaType, digest: manifest.digest, size: manifest.bytes.length}, what)
    if (referrer) await this.layout.addReferrer(referrer.descriptor)
    return {digest, subjectIndexed: referrer !== undefined}
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
    // Children go by digest; a tag is the job's own, or a referrer's (cosign's `sha256-<hex>.sig`).
    const top = reference === this.topReference && this.refName !== undefined
    if (!top && reference.includes(':')) return manifest.digest
    const refName = top ? this.refName! : refNameFor(this.repository, {tag: reference})
    // A registry may label a manifest application/json; the entry carries its real type.
    const {mediaType} = parseManifest(manifest.bytes, manifest.mediaType, `${refName}@${manifest.digest}`)
    const descriptor = {mediaType, digest: manifest.digest, size: manifest.bytes.length}
    await this.layout.index.put(descriptor, refName)
    if (top) this.layout.onSaved?.(refName, descriptor)
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
