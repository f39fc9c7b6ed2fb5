/**
 * Applies --platform to a source manifest: an index becomes the index of the wanted children; a
 * single-platform image is kept or left out by the os/architecture of its config blob.
 */
import {pipeline} from 'node:stream/promises'
import {Writable} from 'node:stream'

import {DigestVerifier} from '../registry/digest-verifier.js'
import type {FetchedManifest} from '../registry/manifests.js'
import {parseManifest} from '../registry/media-types.js'
import {formatPlatform, platformMatches, subsetIndex, type Platform} from '../select/platforms.js'
import type {ImageSource} from './endpoints.js'

export type PlatformChoice = {kind: 'keep'; manifest: FetchedManifest; note?: string} | {kind: 'leave'; note: string}

/** Config blobs are small; a larger one is not an image config worth reading whole. */
const CONFIG_LIMIT = 4 * 1024 * 1024

export async function choosePlatforms(
  manifest: FetchedManifest,
  platforms: readonly Platform[],
  source: ImageSource,
  signal?: AbortSignal,
): Promise<PlatformChoice> {
  const wanted = platforms.map(formatPlatform).join(', ')
  const parsed = parseManifest(manifest.bytes, manifest.mediaType, `${source.name}@${manifest.digest}`)
  if (parsed.kind === 'index') {
    const subset = subsetIndex(manifest.bytes, platforms)
    if (!subset) {
      const offered = parsed.manifests.map((child) => formatPlatform(child.platform)).join(', ')
      return {kind: 'leave', note: `platform not selected: the index offers ${offered || 'no platform'}, not ${wanted}`}
    }
    if (subset.digest === manifest.digest) return {kind: 'keep', manifest}
    return {
      kind: 'keep',
      manifest: {bytes: subset.bytes, digest: subset.digest, mediaType: manifest.mediaType, size: subset.bytes.length},
      note: `index reduced to ${subset.kept.length} of ${subset.total} manifests (${wanted}): the destination digest differs from the source's`,
    }
  }
  if (parsed.config.size > CONFIG_LIMIT) return {kind: 'keep', manifest}
  const config = await readConfig(source, parsed.config, signal)
  if (platformMatches(platforms, config)) return {kind: 'keep', manifest}
  return {kind: 'leave', note: `platform not selected: the image is ${formatPlatform(config)}, not ${wanted}`}
}

async function readConfig(
  source: ImageSource,
  descriptor: Parameters<ImageSource['openBlob']>[0],
  signal?: AbortSignal,
): Promise<{os?: string; architecture?: string; variant?: string}> {
  const chunks: Buffer[] = []
  const body = await source.openBlob(descriptor, signal)
  await pipeline(
    body,
    new DigestVerifier(descriptor, `config ${descriptor.digest} of ${source.name}`),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk)
        done()
      },
    }),
    signal ? {signal} : {},
  )
  try {
    const config = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
    return {os: text(config.os), architecture: text(config.architecture), variant: text(config.variant)}
  } catch {
    return {}
  }
}
