/**
 * index.json: the layout's list of images. One writer per layout holds the entries in memory and
 * replaces the file atomically (temporary file, fsync, rename), one write at a time, so
 * concurrent jobs never interleave and a SIGKILL leaves either the old or the new file.
 */
import path from 'node:path'

import {FerryError} from '../errors.js'
import {OCI_INDEX, type Descriptor} from '../registry/media-types.js'
import {INDEX_FILE, temporaryName} from './paths.js'
import {INDEX_LIMIT, readRegular} from './regular-file.js'
import {replaceFileAtomically} from '../atomic-file.js'

/** The annotation skopeo and other OCI tools look an image up by. */
export const REF_NAME = 'org.opencontainers.image.ref.name'

export interface IndexEntry extends Descriptor {
  /** A referrer's artifact type, as the referrers API lists it. */
  artifactType?: string
  annotations?: Record<string, string>
}

export interface IndexDocument {
  schemaVersion: 2
  mediaType: string
  manifests: IndexEntry[]
}

export function refNameOf(entry: IndexEntry): string | undefined {
  return entry.annotations?.[REF_NAME]
}

/** The entries of `root/index.json`; an absent file is an empty layout, a broken one an error naming it. */
export async function readIndex(root: string): Promise<IndexEntry[]> {
  const file = path.join(root, INDEX_FILE)
  let text: string
  try {
    text = (await readRegular(file, INDEX_LIMIT, 'an index.json')).toString('utf8')
  } catch (error) {
    if (FerryError.is(error)) throw error
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new FerryError('INVALID_LAYOUT', `${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  return parseIndex(text, file)
}

/** Pure: index.json text → entries, each checked for the fields a copy needs. */
export function parseIndex(text: string, file: string): IndexEntry[] {
  let doc: {manifests?: unknown}
  try {
    doc = JSON.parse(text) as {manifests?: unknown}
  } catch {
    throw new FerryError('INVALID_LAYOUT', `${file}: not JSON`)
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.manifests)) {
    throw new FerryError('INVALID_LAYOUT', `${file}: has no "manifests" list`)
  }
  return doc.manifests.map((value, position) => {
    const entry = value as Partial<IndexEntry> | null
    if (!entry || typeof entry.digest !== 'string' || typeof entry.size !== 'number' || typeof entry.mediaType !== 'string') {
      throw new FerryError('INVALID_LAYOUT', `${file}: manifests[${position}] lacks a digest, size or mediaType`)
    }
    return entry as IndexEntry
  })
}

/**
 * The entries in the order they were first added; a ref name added again replaces its entry in
 * place, and so does an entry without one (a referrer) added again by digest.
 */
export function withEntry(entries: readonly IndexEntry[], entry: IndexEntry): IndexEntry[] {
  const name = refNameOf(entry)
  const same = (existing: IndexEntry) =>
    name === undefined ? refNameOf(existing) === undefined && existing.digest === entry.digest : refNameOf(existing) === name
  const at = entries.findIndex(same)
  if (at < 0) return [...entries, entry]
  return entries.map((existing, position) => (position === at ? entry : existing))
}

export class IndexWriter {
  private entries: IndexEntry[]
  private byName = new Map<string, IndexEntry>()
  private byDigest = new Map<string, IndexEntry>()
  private waiting: {entry: IndexEntry; resolve: () => void; reject: (error: unknown) => void}[] = []
  private writing?: Promise<void>

  private constructor(
    private readonly root: string,
    entries: IndexEntry[],
  ) {
    this.entries = entries
    this.index()
  }

  static async open(root: string): Promise<IndexWriter> {
    return new IndexWriter(root, await readIndex(root))
  }

  current(): readonly IndexEntry[] {
    return this.entries
  }

  find(refName: string): IndexEntry | undefined {
    return this.byName.get(refName)
  }

  mediaTypeOf(digest: string): string | undefined {
    return this.byDigest.get(digest)?.mediaType
  }

  /** The size an entry's descriptor gives a digest, checked against the file before it is read. */
  sizeOf(digest: string): number | undefined {
    return this.byDigest.get(digest)?.size
  }

  /**
   * Adds (or moves) one ref name, or without one a referrer's entry; resolves once index.json on
   * disk holds it. Entries that arrive while a write is under way go into the next write
   * together, so a large index is not rewritten once per image.
   */
  put(descriptor: Descriptor & {artifactType?: string}, refName?: string): Promise<void> {
    const entry: IndexEntry = {
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      ...(descriptor.artifactType ? {artifactType: descriptor.artifactType} : {}),
      ...(refName !== undefined ? {annotations: {[REF_NAME]: refName}} : {}),
    }
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({entry, resolve, reject})
      this.writing ??= this.drain()
    })
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0)
      const next = batch.reduce((entries, item) => withEntry(entries, item.entry), this.entries)
      try {
        await this.replaceFile(next)
        this.entries = next
        this.index()
        for (const item of batch) item.resolve()
      } catch (error) {
        // The file still holds the previous entries; these images are not saved and say so.
        for (const item of batch) item.reject(error)
      }
    }
    this.writing = undefined
  }

  private index(): void {
    this.byName = new Map()
    this.byDigest = new Map()
    for (const entry of this.entries) {
      const name = refNameOf(entry)
      if (name !== undefined) this.byName.set(name, entry)
      this.byDigest.set(entry.digest, entry)
    }
  }

  private async replaceFile(entries: IndexEntry[]): Promise<void> {
    const doc: IndexDocument = {schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries}
    await replaceFileAtomically(path.join(this.root, INDEX_FILE), `${JSON.stringify(doc, null, 2)}\n`, {temporaryName: temporaryName()})
  }
}
