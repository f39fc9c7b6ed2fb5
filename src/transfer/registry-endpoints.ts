import {createHash} from 'node:crypto'
import type {Readable} from 'node:stream'

import type {ImageReference} from '../reference.js'
import {blobExists, mountBlob, openBlob, uploadBlob} from '../registry/blobs.js'
import {chunksRefused, uploadResumable} from '../registry/resumable-upload.js'
import {getManifest, headManifest, pushManifest, putManifest, type FetchedManifest} from '../registry/manifests.js'
import type {Descriptor} from '../registry/media-types.js'
import {DEFAULT_BLOB_CONNECTIONS, PartSlots, type RangedSettings} from '../registry/ranged-reader.js'
import type {ClientPool, PooledClient} from './clients.js'
import type {BlobBody, BlobReadOptions, BlobWriteOptions, EndpointResolver, FoundReferrer, ImageDestination, ImageSource, MountResult} from './endpoints.js'
import {readOptional, RegistryReferrers} from './registry-referrers.js'

/** A repository of a registry, read and written through the pooled client for its credentials. */
export class RegistryRepository implements ImageSource, ImageDestination {
  readonly name: string
  readonly scope: string
  readonly flightKey: string
  readonly uploadIdentity: string

  constructor(
    private readonly pooled: PooledClient,
    readonly repository: string,
    /** A destination asks for push access from its first request on, so HEAD and pushes share one token. */
    private readonly push: boolean,
    /** How a large blob is read from this repository as a source. */
    private readonly ranged?: RangedSettings,
    /** What the run learnt of where each registry keeps referrers. */
    private readonly referrerLookups = new RegistryReferrers(),
  ) {
    this.name = `${pooled.client.registry}/${repository}`
    this.scope = pooled.key
    this.flightKey = pooled.client.registry
    this.uploadIdentity = createHash('sha256').update(`${pooled.key}\u0000${pooled.client.identity}`).digest('hex').slice(0, 32)
  }

  private get client() {
    return this.pooled.client
  }

  headManifest(reference: string, signal?: AbortSignal) {
    return headManifest(this.client, this.repository, reference, {signal, push: this.push})
  }

  getManifest(reference: string, signal?: AbortSignal) {
    return getManifest(this.client, this.repository, reference, {signal})
  }

  openBlob(descriptor: Descriptor, signal?: AbortSignal, options: BlobReadOptions = {}): Promise<Readable> {
    return openBlob(this.client, this.repository, descriptor, {signal, offset: options.offset, ranged: this.ranged})
  }

  hasBlob(digest: string, signal?: AbortSignal) {
    return blobExists(this.client, this.repository, digest, {signal, push: this.push})
  }

  async mountBlob(digest: string, from: string, signal?: AbortSignal): Promise<MountResult> {
    const outcome = await mountBlob(this.client, this.repository, digest, from, {signal})
    return outcome.mounted ? outcome : {mounted: false, session: outcome.location}
  }

  writeBlob(descriptor: Descriptor, body: BlobBody, options: BlobWriteOptions): Promise<void> {
    if (options.chunkSize) return this.writeChunks(descriptor, body, {...options, chunkSize: options.chunkSize})
    return uploadBlob(this.client, this.repository, descriptor, () => body(0), options)
  }

  /** In chunks: resumable after a cut, from the offset the session holds; one PUT where chunks are refused. */
  private async writeChunks(descriptor: Descriptor, body: BlobBody, options: BlobWriteOptions & {chunkSize: number}): Promise<void> {
    let accepted = false
    const onProgress: BlobWriteOptions['onProgress'] = (session) => {
      accepted = true
      return options.onProgress?.(session)
    }
    try {
      await uploadResumable(this.client, this.repository, descriptor, body, {...options, onProgress})
    } catch (error) {
      if (accepted || options.signal.aborted || !chunksRefused(error)) throw error
      await uploadBlob(this.client, this.repository, descriptor, () => body(0), {signal: options.signal})
    }
  }

  putManifest(reference: string, manifest: FetchedManifest, signal?: AbortSignal): Promise<string> {
    return putManifest(this.client, this.repository, reference, manifest, {signal})
  }

  referrers(digest: string, wanted: readonly string[], signal?: AbortSignal): Promise<FoundReferrer[]> {
    return this.referrerLookups.find(this.client, this.repository, digest, wanted, signal)
  }

  async pushReferrer(reference: string, manifest: FetchedManifest, signal?: AbortSignal): Promise<{digest: string; subjectIndexed: boolean}> {
    const pushed = await pushManifest(this.client, this.repository, reference, manifest, {signal})
    if (pushed.subjectIndexed) this.referrerLookups.learnIndexed(this.client.registry)
    return pushed
  }

  readManifest(reference: string, signal?: AbortSignal): Promise<FetchedManifest | undefined> {
    return readOptional(this.client, this.repository, reference, signal)
  }

  listsReferrers(digest: string, signal?: AbortSignal): Promise<boolean> {
    return this.referrerLookups.listsReferrers(this.client, this.repository, digest, signal)
  }
}

/**
 * The engine's default: both ends of every job are registry repositories. `readOnly` (verify, dry
 * run) asks the destination for pull tokens only, so a read-only account can check a mirror.
 */
export function registryEndpoints(
  clients: ClientPool,
  options: {readOnly?: boolean; blobConnections?: number; referrers?: RegistryReferrers} = {},
): EndpointResolver {
  const ranged: RangedSettings = {connections: options.blobConnections ?? DEFAULT_BLOB_CONNECTIONS, slots: new PartSlots()}
  const referrers = options.referrers ?? new RegistryReferrers()
  const open = (location: ImageReference, push: boolean) =>
    new RegistryRepository(clients.get(location.registry, location.repository), location.repository, push, ranged, referrers)
  return {source: (location) => open(location, false), destination: (location) => open(location, !options.readOnly)}
}
