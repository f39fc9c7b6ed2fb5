// Artifacts as the tools that make them push them, built by hand over raw HTTP (like images.ts):
// cosign's signature tags (`sha256-<hex>.sig`, a manifest with a simple-signing layer), OCI 1.1
// referrers (a manifest with `subject` and `artifactType`), the fallback tag index `sha256-<hex>`
// clients write where the registry has no referrers API, and a Helm-chart-like artifact with a
// config media type of its own.
import {randomLayer, sha256} from './blobs.js'
import type {Endpoint} from './http.js'
import {fetchManifest, pushBlob, pushImage, putManifest, type Blob, type PushedImage} from './images.js'

/** The fallback tag of `subject`'s referrers (`sha256-<hex>`), as the distribution spec names it. */
export const fallbackTag = (subject: string) => subject.replace(':', '-')
/** cosign's tag for `subject`'s signature (`sig`), attestation (`att`) or SBOM (`sbom`). */
export const cosignTag = (subject: string, kind: 'sig' | 'att' | 'sbom' = 'sig') => `${fallbackTag(subject)}.${kind}`

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
export const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json'
export const COSIGN_SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json'
export const SBOM_TYPE = 'application/spdx+json'
export const SIGNATURE_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json'
export const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json'
export const HELM_CHART = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip'

export interface BuiltArtifact {
  manifest: Buffer
  mediaType: string
  digest: string
  size: number
  artifactType?: string
  blobs: Blob[]
}

function blob(bytes: Buffer | string, mediaType: string): Blob {
  const data = Buffer.from(bytes)
  return {digest: sha256(data), size: data.length, bytes: data, mediaType}
}

const descriptor = (b: {mediaType: string; digest: string; size: number}) => ({mediaType: b.mediaType, digest: b.digest, size: b.size})

function manifestOf(config: Blob, layers: Blob[], extra: Record<string, unknown> = {}): BuiltArtifact {
  const doc = {schemaVersion: 2, mediaType: OCI_MANIFEST, ...extra, config: descriptor(config), layers: layers.map(descriptor)}
  const manifest = Buffer.from(JSON.stringify(doc))
  const artifactType = typeof extra.artifactType === 'string' ? extra.artifactType : undefined
  return {
    manifest,
    mediaType: OCI_MANIFEST,
    digest: sha256(manifest),
    size: manifest.length,
    ...(artifactType ? {artifactType} : {}),
    blobs: [config, ...layers],
  }
}

/** A cosign signature of `subject` as cosign 2 pushes it to the tag `sha256-<hex>.sig`: a simple-signing payload layer with its signature annotation. */
export function cosignSignature(repository: string, subject: string, seed = 'sig'): BuiltArtifact {
  const payload = JSON.stringify({
    critical: {identity: {'docker-reference': repository}, image: {'docker-manifest-digest': subject}, type: 'cosign container image signature'},
    optional: {seed},
  })
  const layer = {...blob(payload, COSIGN_SIMPLESIGNING)}
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(blob('{}', 'application/vnd.oci.image.config.v1+json')),
    layers: [{...descriptor(layer), annotations: {'dev.cosignproject.cosign/signature': Buffer.from(`signature of ${subject} ${seed}`).toString('base64')}}],
  }
  const manifest = Buffer.from(JSON.stringify(doc))
  return {
    manifest,
    mediaType: OCI_MANIFEST,
    digest: sha256(manifest),
    size: manifest.length,
    blobs: [blob('{}', 'application/vnd.oci.image.config.v1+json'), layer],
  }
}

/** An OCI 1.1 referrer of `subject`: an artifact manifest with `artifactType`, an empty config and one layer. */
export function referrer(
  subject: {mediaType: string; digest: string; manifest: Buffer},
  artifactType: string,
  content: string,
  annotations: Record<string, string> = {},
): BuiltArtifact {
  const layer = blob(content, artifactType === SBOM_TYPE ? SBOM_TYPE : 'application/octet-stream')
  return manifestOf(blob('{}', EMPTY_CONFIG), [layer], {
    artifactType,
    subject: {mediaType: subject.mediaType, digest: subject.digest, size: subject.manifest.length},
    annotations: {'org.opencontainers.image.created': '2026-12-01T00:00:00Z', ...annotations},
  })
}

/** A Helm chart as `helm push` stores it: its own config media type, the chart as one layer. */
export function helmChart(name: string, version: string): BuiltArtifact {
  return manifestOf(blob(JSON.stringify({name, version, apiVersion: 'v2'}), HELM_CONFIG), [blob(`chart ${name}-${version}`, HELM_CHART)])
}

/** Blobs first, then the manifest to `reference` (a tag, or its digest when absent). */
export async function pushArtifact(registry: Endpoint, repository: string, artifact: BuiltArtifact, reference?: string): Promise<BuiltArtifact> {
  for (const b of artifact.blobs) await pushBlob(registry, repository, b)
  await putManifest(registry, repository, reference ?? artifact.digest, artifact)
  return artifact
}

/** The fallback tag index `sha256-<hex>` listing `referrers` of `subject`, as a client writes it where there is no referrers API. */
export async function pushFallbackIndex(registry: Endpoint, repository: string, subject: string, referrers: BuiltArtifact[]): Promise<Buffer> {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: referrers.map((r) => ({...descriptor(r), ...(r.artifactType ? {artifactType: r.artifactType} : {})})),
  }
  const manifest = Buffer.from(JSON.stringify(doc))
  await putManifest(registry, repository, fallbackTag(subject), {manifest, mediaType: OCI_INDEX, digest: sha256(manifest)})
  return manifest
}

/** The digests the fallback tag index `sha256-<hex>` of `subject` lists at a registry, in order. */
export async function fallbackIndexEntries(registry: Endpoint, repository: string, subject: string): Promise<string[]> {
  const manifest = await fetchManifest(registry, repository, fallbackTag(subject))
  return (JSON.parse(manifest.bytes.toString()) as {manifests: {digest: string}[]}).manifests.map((entry) => entry.digest)
}

/** An image as cosign 2 and oras leave it on a registry without the referrers API. */
export interface SignedImage {
  image: PushedImage
  /** cosign's signature, under its `sha256-<hex>.sig` tag. */
  signature: BuiltArtifact
  /** An SBOM referrer of the image, listed in the image's fallback index. */
  sbom: BuiltArtifact
  /** A signature of the SBOM, listed in the SBOM's fallback index. */
  sbomSignature: BuiltArtifact
}

/** Pushes an OCI image with a cosign signature, an SBOM and the SBOM's signature (two levels of referrers). */
export async function pushSignedImage(registry: Endpoint, repository: string, tag: string, seed: string): Promise<SignedImage> {
  const image = await pushImage(registry, repository, tag, {layers: [randomLayer(512, seed)], flavour: 'oci'})
  const signature = await pushArtifact(registry, repository, cosignSignature(repository, image.digest), cosignTag(image.digest))
  const sbom = await pushArtifact(registry, repository, referrer(image, SBOM_TYPE, '{"spdxVersion":"SPDX-2.3"}'))
  const sbomSignature = await pushArtifact(registry, repository, referrer(sbom, SIGNATURE_TYPE, 'signature of the SBOM'))
  await pushFallbackIndex(registry, repository, image.digest, [sbom])
  await pushFallbackIndex(registry, repository, sbom.digest, [sbomSignature])
  return {image, signature, sbom, sbomSignature}
}
