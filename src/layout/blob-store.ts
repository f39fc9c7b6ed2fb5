/**
 * The content-addressed store of a layout. A blob is written to a temporary name in its own
 * folder, flushed to disk, and renamed to its digest only once the whole stream has arrived: the
 * stream handed in is the copier's DigestVerifier, which fails before its last byte when the
 * content is wrong, so a name under blobs/ always holds the bytes of its digest, even after a
 * SIGKILL. A blob already present is never written again.
 */
import {createHash} from 'node:crypto'
import {createWriteStream, mkdirSync} from 'node:fs'
import {lstat, open, rename, rm} from 'node:fs/promises'
import path from 'node:path'
import type {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'

import {FerryError} from '../errors.js'
import {blobPath, temporaryName} from './paths.js'
import {MANIFEST_LIMIT, openRegular, overLimit, readOpened} from './regular-file.js'

export class BlobStore {
  constructor(readonly root: string) {}

  pathOf(digest: string): string {
    return blobPath(this.root, digest)
  }

  /** Present as a regular file: a link or a pipe under a blob's name is not the blob (a save replaces it). */
  async has(digest: string): Promise<boolean> {
    return lstat(this.pathOf(digest)).then(
      (stats) => stats.isFile(),
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

  /**
   * A blob's bytes as a stream, from a regular file exactly the size its descriptor gives: a
   * file of any other size is refused before a byte of it is read. From `offset` on, when given.
   */
  async open(digest: string, size: number, offset = 0): Promise<Readable> {
    const file = this.pathOf(digest)
    const {handle, size: actual} = await this.openFile(file, digest)
    if (actual !== size) {
      await handle.close()
      throw sizeMismatch(this.root, digest, actual, size)
    }
    return handle.createReadStream({start: offset})
  }

  /**
   * A whole manifest, at most MANIFEST_LIMIT bytes (and exactly `size` when its descriptor is
   * known), checked against its digest.
   */
  async read(digest: string, size?: number): Promise<Buffer> {
    const file = this.pathOf(digest)
    const {handle, size: actual} = await this.openFile(file, digest)
    let bytes: Buffer
    try {
      if (size !== undefined && actual !== size) throw sizeMismatch(this.root, digest, actual, size)
      if (actual > MANIFEST_LIMIT) throw overLimit(file, actual, MANIFEST_LIMIT, 'a manifest')
      bytes = await readOpened(handle, actual, file)
    } finally {
      await handle.close()
    }
    const [algorithm] = digest.split(':')
    const actualDigest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
    if (actualDigest !== digest) {
      throw new FerryError(
        'DIGEST_MISMATCH',
        `layout ${this.root}: blob ${digest} does not match its digest (its content is ${actualDigest}); the layout is damaged`,
      )
    }
    return bytes
  }

  private async openFile(file: string, digest: string): ReturnType<typeof openRegular> {
    try {
      return await openRegular(file)
    } catch (error) {
      if (FerryError.is(error)) throw error
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missingBlob(this.root, digest)
      throw new FerryError('INVALID_LAYOUT', `${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    }
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

function sizeMismatch(root: string, digest: string, actual: number, expected: number): FerryError {
  return new FerryError(
    'SIZE_MISMATCH',
    `layout ${root}: blob ${digest} is ${actual} bytes on disk but its descriptor says ${expected}; the layout is damaged (save the image again)`,
  )
}
