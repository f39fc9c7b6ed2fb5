// Builds and pushes test images over raw HTTP (see http.ts for why not src/).
import {diffId, randomLayer, sha256} from './blobs.js'
import {clientFor, expectStatus, type Endpoint} from './http.js'

export {randomBlob, randomLayer, sha256, diffId} from './blobs.js'
export {seedCorpus, type Corpus, type CorpusEntry, type CorpusOptions} from './corpus.js'

export type Flavour = 'docker' | 'oci'

export const MEDIA_TYPES = {
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    index: 'application/vnd.oci.image.index.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  },
} as const

/** Every manifest type the harness produces, for Accept headers. */
export const ACCEPT_ALL = [MEDIA_TYPES.oci.index, MEDIA_TYPES.oci.manifest, MEDIA_TYPES.docker.index, MEDIA_TYPES.docker.manifest].join(', ')

export interface Platform {
  os: string
  architecture: string
  variant?: string
}

export const DEFAULT_PLATFORMS: readonly string[] = ['linux/amd64', 'linux/arm64', 'linux/arm/v7']

export function parsePlatform(platform: Platform | string): Platform {
  if (typeof platform !== 'string') return platform
  const [os = 'linux', architecture = 'amd64', variant] = platform.split('/')
  return variant === undefined ? {os, architecture} : {os, architecture, variant}
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter((p) => p !== undefined).join('/')
}

export interface ImageSpec {
  /** Layer blobs as pushed (gzipped tars from randomLayer, or any bytes). */
  layers: Buffer[]
  flavour?: Flavour
  /** Default linux/amd64. */
  platform?: Platform | string
  /** Goes into config.config.Labels: an easy way to make two images differ. */
  labels?: Record<string, string>
  /** Manifest annotations (OCI only; Docker v2 manifests have none). */
  annotations?: Record<string, string>
}

export interface Blob {
  digest: string
  size: number
  mediaType: string
  bytes: Buffer
}

export interface BuiltImage {
  kind: 'image'
  digest: string
  mediaType: string
  /** The exact manifest bytes; `digest` is their sha256. */
  manifest: Buffer
  config: Blob
  layers: Blob[]
  /** Config then layers, duplicates removed. */
  blobs: Blob[]
  platform: Platform
}

export interface BuiltIndex {
  kind: 'index'
  digest: string
  mediaType: string
  manifest: Buffer
  children: BuiltImage[]
  /** Blobs of every child, duplicates removed. */
  blobs: Blob[]
}

export type PushedImage = BuiltImage & {repository: string; tag: string | null}
export type PushedIndex = BuiltIndex & {repository: string; tag: string | null}

function blob(bytes: Buffer, mediaType: string): Blob {
  return {digest: sha256(bytes), size: bytes.length, mediaType, bytes}
}

function descriptor(b: {digest: string; size: number; mediaType: string}): Record<string, unknown> {
  return {mediaType: b.mediaType, size: b.size, digest: b.digest}
}

function uniqueBlobs(blobs: Blob[]): Blob[] {
  const seen = new Map<string, Blob>()
  for (const b of blobs) if (!seen.has(b.digest)) seen.set(b.digest, b)
  return [...seen.values()]
}

/**
 * Serialises a manifest the way Docker does (3-space indent). Not compact on
 * purpose: a copier that parses and re-serialises instead of moving the
 * exact bytes then changes the digest, and the tests notice.
 */
function manifestBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 3))
}

/** Builds an image (config, manifest) without pushing anything. */
export function buildImage(spec: ImageSpec): BuiltImage {
  const flavour = spec.flavour ?? 'docker'
  const types = MEDIA_TYPES[flavour]
  const platform = parsePlatform(spec.platform ?? 'linux/amd64')
  const layers = spec.layers.map((bytes) => blob(bytes, types.layer))
  const configJson = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant === undefined ? {} : {variant: platform.variant}),
    // Fixed date: reproducible digests.
    created: '2024-01-01T00:00:00Z',
    config: {Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], ...(spec.labels ? {Labels: spec.labels} : {})},
    rootfs: {type: 'layers', diff_ids: spec.layers.map(diffId)},
    history: spec.layers.map((_, i) => ({created: '2024-01-01T00:00:00Z', created_by: `ferry test layer ${i}`})),
  }
  const config = blob(Buffer.from(JSON.stringify(configJson)), types.config)
  const manifestJson = {
    schemaVersion: 2,
    mediaType: types.manifest,
    config: descriptor(config),
    layers: layers.map(descriptor),
    ...(flavour === 'oci' && spec.annotations ? {annotations: spec.annotations} : {}),
  }
  const manifest = manifestBytes(manifestJson)
  return {
    kind: 'image',
    digest: sha256(manifest),
    mediaType: types.manifest,
    manifest,
    config,
    layers,
    blobs: uniqueBlobs([config, ...layers]),
    platform,
  }
}

/** Builds an index / manifest list over already built children. */
export function buildIndex(children: BuiltImage[], flavour: Flavour = 'oci'): BuiltIndex {
  const mediaType = MEDIA_TYPES[flavour].index
  const manifest = manifestBytes({
    schemaVersion: 2,
    mediaType,
    manifests: children.map((child) => ({
      mediaType: child.mediaType,
      size: child.manifest.length,
      digest: child.digest,
      platform: {
        architecture: child.platform.architecture,
        os: child.platform.os,
        ...(child.platform.variant === undefined ? {} : {variant: child.platform.variant}),
      },
    })),
  })
  return {
    kind: 'index',
    digest: sha256(manifest),
    mediaType,
    manifest,
    children,
    blobs: uniqueBlobs(children.flatMap((c) => c.blobs)),
  }
}

function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`
}

/**
 * Uploads a blob unless the repository already has it (HEAD first, which is
 * also how shared layers get skipped). Monolithic upload: POST then PUT.
 */
export async function pushBlob(registry: Endpoint, repository: string, b: Blob): Promise<void> {
  const client = clientFor(registry)
  const scope = pushScope(repository)
  const head = await client.request('HEAD', `/v2/${repository}/blobs/${b.digest}`, {scope})
  if (head.status === 200) return
  const start = await client.request('POST', `/v2/${repository}/blobs/uploads/`, {scope})
  expectStatus(start, [202], `start upload to ${repository}`)
  const location = start.headers.location
  if (!location) throw new Error(`upload to ${repository}: 202 without Location`)
  // Location may be relative or absolute and may carry its own query (_state).
  const target = new URL(location, registry.url)
  target.searchParams.set('digest', b.digest)
  const put = await client.request('PUT', target.href, {
    scope,
    body: b.bytes,
    headers: {'content-type': 'application/octet-stream'},
  })
  expectStatus(put, [201], `upload ${b.digest} to ${repository}`)
}

/** PUTs manifest bytes to a tag or digest and checks the registry's digest. */
export async function putManifest(
  registry: Endpoint,
  repository: string,
  reference: string,
  manifest: {manifest: Buffer; mediaType: string; digest: string},
): Promise<void> {
  const res = await clientFor(registry).request('PUT', `/v2/${repository}/manifests/${reference}`, {
    scope: pushScope(repository),
    body: manifest.manifest,
    headers: {'content-type': manifest.mediaType},
  })
  expectStatus(res, [201], `put manifest ${repository}:${reference}`)
  const echoed = res.headers['docker-content-digest']
  if (echoed !== undefined && echoed !== manifest.digest) {
    throw new Error(`registry computed ${String(echoed)} for manifest ${manifest.digest}`)
  }
}

/** Pushes blobs one at a time, then the manifest (to `tag`, or by digest if null). */
export async function pushBuiltImage(registry: Endpoint, repository: string, tag: string | null, image: BuiltImage): Promise<PushedImage> {
  // Sequential on purpose: Distribution 2.8 can 500 on a HEAD racing a commit
  // of the same blob into the same repository.
  for (const b of image.blobs) await pushBlob(registry, repository, b)
  await putManifest(registry, repository, tag ?? image.digest, image)
  return {...image, repository, tag}
}

export async function pushImage(registry: Endpoint, repository: string, tag: string | null, spec: ImageSpec): Promise<PushedImage> {
  return pushBuiltImage(registry, repository, tag, buildImage(spec))
}

export interface IndexOptions {
  /** Size of each generated layer in bytes; default 1024. */
  layerSize?: number
  /** Seed for the generated layers; default `${repository}:${tag}`. */
  seed?: string
  /**
   * A layer every child shares (like a common base); default one derived
   * from `seed`. Pass the same Buffer across indexes to share it wider.
   */
  sharedLayer?: Buffer
}

/**
 * Pushes a multi-platform index: each child by digest first, the index last,
 * so the tag never points at a single platform or a dangling child.
 */
export async function pushIndex(
  registry: Endpoint,
  repository: string,
  tag: string | null,
  platforms: ReadonlyArray<Platform | string> = DEFAULT_PLATFORMS,
  flavour: Flavour = 'oci',
  options: IndexOptions = {},
): Promise<PushedIndex> {
  const seed = options.seed ?? `${repository}:${tag ?? 'untagged'}`
  const size = options.layerSize ?? 1024
  const shared = options.sharedLayer ?? randomLayer(size, `${seed}:shared`)
  const children = platforms.map((p) => {
    const platform = parsePlatform(p)
    return buildImage({
      flavour,
      platform,
      layers: [shared, randomLayer(size, `${seed}:${formatPlatform(platform)}`)],
    })
  })
  for (const child of children) await pushBuiltImage(registry, repository, null, child)
  const index = buildIndex(children, flavour)
  await putManifest(registry, repository, tag ?? index.digest, index)
  return {...index, repository, tag}
}

/** GETs a manifest's exact bytes; `reference` is a tag or digest. */
export async function fetchManifest(registry: Endpoint, repository: string, reference: string): Promise<{bytes: Buffer; mediaType: string; digest: string}> {
  const res = await clientFor(registry).request('GET', `/v2/${repository}/manifests/${reference}`, {
    scope: `repository:${repository}:pull`,
    headers: {accept: ACCEPT_ALL},
  })
  expectStatus(res, [200], `get manifest ${repository}:${reference}`)
  return {bytes: res.body, mediaType: String(res.headers['content-type'] ?? ''), digest: sha256(res.body)}
}
