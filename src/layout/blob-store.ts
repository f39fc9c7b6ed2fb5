/**
 * The content-addressed store of a layout. A blob is written to a temporary name in its own
 * folder, flushed to disk, and renamed to its digest only once the whole stream has arrived: the
 * stream handed in is the copier's DigestVerifier, which fails before its last byte when the
 * content is wrong, so a name under blobs/ always holds the bytes of its digest, even after a
 * SIGKILL. A blob already present is never written again.
 */
import {createHash} from 'node:crypto'
import {createReadStream, createWriteStream, mkdirSync} from 'node:fs'
import {access, open, readFile, rename, rm} from 'node:fs/promises'
import path from 'node:path'
import type {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'

import {FerryError} from '../errors.js'
import {blobPath, temporaryName} from './paths.js'

export class BlobStore {
  constructor(readonly root: string) {}

  pathOf(digest: string): string {
    return blobPath(this.root, digest)
  }

  async has(digest: string): Promise<boolean> {
    return access(this.pathOf(digest)).then(
      () => true,
      () => false,
    )
  }

  /** Streams `body` into the store under `digest`; on any failure nothing is left behind. */
  async write(digest: string, body: Readable, signal?: AbortSignal): Promise<void> {
    const target = this.pathOf(digest)
    algorithmFolder(target)
    const temporary = path.join(path.dirname(target), temporaryName())
    try {
      await pipeline(body, createWriteStream(temporary, {flags: 'wx'}), {signal})
      await commit(temporary, target)
    } catch (error) {
      await rm(temporary, {force: true})
      throw error
    }
  }

  /** Bytes already in memory (a manifest), checked against their digest before they are stored. */
  async writeBytes(digest: string, bytes: Buffer): Promise<void> {
    const [algorithm] = digest.split(':')
    this.pathOf(digest) // refuses a digest the store cannot name before it is used to hash
    const actual = `${algorithm}:${createHash(algorithm!).update(bytes).digest('hex')}`
    if (actual !== digest) throw new FerryError('DIGEST_MISMATCH', `layout ${this.root}: bytes for ${digest} have digest ${actual}, refused`)
    if (await this.has(digest)) return
    const target = this.pathOf(digest)
    algorithmFolder(target)
    const temporary = path.join(path.dirname(target), temporaryName())
    try {
      const handle = await open(temporary, 'wx')
      try {
        await handle.writeFile(bytes)
      } finally {
        await handle.close()
      }
      await commit(temporary, target)
    } catch (error) {
      await rm(temporary, {force: true})
      throw error
    }
  }

  /** A blob's bytes as a stream; a missing blob is an error naming it. */
  async open(digest: string): Promise<Readable> {
    const file = this.pathOf(digest)
    if (!(await this.has(digest))) throw missingBlob(this.root, digest)
    return createReadStream(file)
  }

  /** A whole (small) blob, checked against its digest: manifests are read this way. */
  async read(digest: string): Promise<Buffer> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.pathOf(digest))
    } catch {
      throw missingBlob(this.root, digest)
    }
    const [algorithm] = digest.split(':')
    const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
    if (actual !== digest) {
      throw new FerryError('DIGEST_MISMATCH', `layout ${this.root}: blob ${digest} does not match its digest (its content is ${actual}); the layout is damaged`)
    }
    return bytes
  }
}

/**
 * `blobs/sha512` is made with the first sha512 blob; a new layout has only `blobs/sha256`. At once,
 * not awaited: the stream handed to write() is already flowing and must meet its pipeline first.
 */
function algorithmFolder(target: string): void {
  try {
    mkdirSync(path.dirname(target))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
}

/** fsync, then rename: after a crash the name is either absent or complete, never a short file. */
async function commit(temporary: string, target: string): Promise<void> {
  const handle = await open(temporary, 'r+')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temporary, target)
}

function missingBlob(root: string, digest: string): FerryError {
  return new FerryError('BLOB_UNKNOWN', `layout ${root}: blob ${digest} is missing from ${path.join('blobs', ...digest.split(':'))}`)
}
