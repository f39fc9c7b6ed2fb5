/**
 * backup.json: beside index.json, one line per saved image a person (or a restore check) reads:
 * the reference, the manifest digest and media type, and the bytes the image holds (its
 * manifests and blobs, each counted once).
 */
import path from 'node:path'

import {refNameOf} from '../layout/index-file.js'
import type {ImageLayout} from '../layout/layout.js'
import {sniffMediaType} from '../layout/media-type.js'
import {temporaryName} from '../layout/paths.js'
import {copiedBlobs, parseManifest, type Descriptor} from '../registry/media-types.js'
import {replaceFileAtomically} from '../atomic-file.js'

export const BACKUP_FILE = 'backup.json'

export interface BackupImage {
  reference: string
  digest: string
  mediaType: string
  /** Bytes of every manifest and blob the image references, each once. */
  size: number
}

export interface BackupManifest {
  source: string
  created: string
  images: BackupImage[]
}

export async function writeBackupManifest(layout: ImageLayout, options: {source: string; prefix: string}): Promise<BackupManifest> {
  const images: BackupImage[] = []
  for (const entry of layout.index.current()) {
    const reference = refNameOf(entry)
    if (!reference?.startsWith(options.prefix)) continue
    images.push({reference, digest: entry.digest, mediaType: entry.mediaType, size: await imageSize(layout, entry)})
  }
  const manifest: BackupManifest = {source: options.source, created: new Date().toISOString(), images}
  await replaceFileAtomically(path.join(layout.root, BACKUP_FILE), `${JSON.stringify(manifest, null, 2)}\n`, {temporaryName: temporaryName()})
  return manifest
}

async function imageSize(layout: ImageLayout, top: Descriptor): Promise<number> {
  const counted = new Map<string, number>()
  const visit = async ({digest: manifestDigest, mediaType: type, size}: {digest: string; mediaType?: string; size: number}) => {
    const bytes = await layout.store.read(manifestDigest, size)
    counted.set(manifestDigest, bytes.length)
    const parsed = parseManifest(bytes, type ?? sniffMediaType(bytes), manifestDigest)
    if (parsed.kind === 'index') {
      for (const child of parsed.manifests) if (!counted.has(child.digest)) await visit(child)
      return
    }
    for (const blob of copiedBlobs(parsed)) counted.set(blob.digest, blob.size)
  }
  await visit(top)
  return [...counted.values()].reduce((sum, size) => sum + size, 0)
}
