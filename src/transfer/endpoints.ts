/**
 * The two ends of a copy, as the copier sees them. A registry repository implements both; an OCI
 * image layout (save, load, backup) implements both too, so every copy goes through the same
 * path: blobs verified first, child manifests next, the top manifest last.
 */
import type {Readable} from 'node:stream'

import type {FetchedManifest, ManifestHead} from '../registry/manifests.js'
import type {Descriptor} from '../registry/media-types.js'
import type {ReferrerDescriptor} from '../registry/referrers.js'
import type {ImageReference} from '../reference.js'

export interface BlobReadOptions {
  offset?: number
}

interface Endpoint {
  /** `registry/repository`, for messages. */
  readonly name: string
  readonly repository: string
  /**
   * Endpoints with the same scope share a store and credentials: a blob present under one
   * repository of a scope can be mounted into another.
   */
  readonly scope: string
  /** The digest and media type of a manifest without its bytes; undefined when absent. */
  headManifest(reference: string, signal?: AbortSignal): Promise<ManifestHead | undefined>
}

export interface ImageSource extends Endpoint {
  /** The exact bytes; a digest reference is checked against them. */
  getManifest(reference: string, signal?: AbortSignal): Promise<FetchedManifest>
  /**
   * The blob's bytes from `offset` (default 0) to its end, as a stream; the copier verifies them on
   * the way. A source that cannot start at the offset fails with RANGE_UNSUPPORTED (the caller
   * reads from 0 again or fails; it never glues).
   */
  openBlob(descriptor: Descriptor, signal?: AbortSignal, options?: BlobReadOptions): Promise<Readable>
  /**
   * The referrers of a manifest of the wanted artifact types (all when none are named): through the
   * referrers API, else the fallback tag index, and cosign's tags either way. Absent where the
   * source keeps none (an OCI layout, for now).
   */
  referrers?(digest: string, wanted: readonly string[], signal?: AbortSignal): Promise<FoundReferrer[]>
}

/** A referrer found at a source. */
export interface FoundReferrer {
  descriptor: ReferrerDescriptor
  /** cosign's `sha256-<hex>.sig` (`.att`, `.sbom`): copied to the same tag. Absent for a referrer with a `subject`. */
  tag?: string
}

export type MountResult = {mounted: true} | {mounted: false; session?: string}

/**
 * Opens a blob's bytes from `offset` (default 0) on, verified on their way. A destination may open
 * them more than once (a registry that refused them whole takes them in parts; an upload cut in
 * the middle goes on from the offset its session holds): each opening reads the source afresh.
 */
export type BlobBody = (offset?: number) => Promise<Readable>

export interface BlobWriteOptions {
  signal: AbortSignal
  /** An upload session to go on with: one a declined mount opened, or one an earlier attempt or run left. */
  session?: string
  /** Upload in parts of this many bytes, where the destination has parts (and resume after a cut). */
  chunkSize?: number
  /** Told after each part the destination accepted: where its upload session stands. */
  onProgress?: (session: {location: string; offset: number}) => void | Promise<void>
}

export interface ImageDestination extends Endpoint {
  /** Blob uploads to one `flightKey` and digest run one at a time (see BlobFlights). */
  readonly flightKey: string
  /**
   * Present where an upload session can be resumed (a registry repository): who uploads, as a
   * hash of the credentials' identity, so that a saved session of other credentials is not used.
   */
  readonly uploadIdentity?: string
  hasBlob(digest: string, signal?: AbortSignal): Promise<boolean>
  /** Makes a blob that lives in another repository of the same scope present here, if the store can. */
  mountBlob?(digest: string, from: string, signal?: AbortSignal): Promise<MountResult>
  /**
   * Stores the bytes `body` opens under the descriptor's digest. They are verified on their way:
   * the stream fails before its last byte when the content does not match, and the write must
   * then commit nothing. Cleans up after itself on failure.
   */
  writeBlob(descriptor: Descriptor, body: BlobBody, options: BlobWriteOptions): Promise<void>
  /** Returns the digest the destination stored the manifest under. */
  putManifest(reference: string, manifest: FetchedManifest, signal?: AbortSignal): Promise<string>
  /** `putManifest`, and whether the registry answered `OCI-Subject` (it lists the referrer itself). */
  pushReferrer?(reference: string, manifest: FetchedManifest, signal?: AbortSignal): Promise<{digest: string; subjectIndexed: boolean}>
  /** A manifest's bytes, undefined when absent (the fallback tag index ferry merges into). */
  readManifest?(reference: string, signal?: AbortSignal): Promise<FetchedManifest | undefined>
  /** Whether the destination lists referrers through the referrers API (asked once per registry and run). */
  listsReferrers?(digest: string, signal?: AbortSignal): Promise<boolean>
}

/**
 * Opens the ends of a job. The engine's default opens registry repositories; save, load and
 * backup hand it one that opens a layout for their side.
 */
export interface EndpointResolver {
  source(location: ImageReference): ImageSource
  destination(location: ImageReference): ImageDestination
}
