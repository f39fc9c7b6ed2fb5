/**
 * A layout folder (or a tar unpacked from one) is input like any other: where a blob should be
 * there can be a symbolic link to /dev/zero, where index.json should be a named pipe. Every file
 * ferry reads from a layout is opened here: never through a symbolic link, never blocking on a
 * pipe, and checked to be a regular file on the opened handle itself, so nothing can be swapped
 * in between the check and the read. What is read into memory is bounded.
 */
import {constants} from 'node:fs'
import {lstat, open, type FileHandle} from 'node:fs/promises'

import {FerryError} from '../errors.js'
import {describeSize, MANIFEST_LIMIT} from '../registry/body-limits.js'

const MiB = 1024 * 1024

/**
 * index.json holds one entry (~300 bytes: media type, digest, size, ref name) per saved image.
 * 64 MiB is room for about 200,000 images, past any registry backup seen, while JSON.parse of the
 * worst case stays within a few hundred MiB of memory.
 */
export const INDEX_LIMIT = 64 * MiB
// A manifest read from a layout has the same bound as one read from a registry.
export {MANIFEST_LIMIT}
/** `oci-layout` is one line, `{"imageLayoutVersion":"1.0.0"}`. */
export const MARKER_LIMIT = 64 * 1024

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever (before the
// fstat that refuses it); it changes nothing for a regular file.
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK

/** What a file's mode says it is, for an error. Pure. */
export function fileKind(mode: number): string {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFREG:
      return 'a regular file'
    case constants.S_IFDIR:
      return 'a folder'
    case constants.S_IFLNK:
      return 'a symbolic link'
    case constants.S_IFIFO:
      return 'a named pipe (FIFO)'
    case constants.S_IFCHR:
      return 'a character device'
    case constants.S_IFBLK:
      return 'a block device'
    case constants.S_IFSOCK:
      return 'a socket'
    default:
      return 'not a regular file'
  }
}

/** The one-line refusal of a file that is not a regular file. Pure. */
export function notRegular(file: string, mode: number): FerryError {
  return new FerryError(
    'INVALID_LAYOUT',
    `${file} is ${fileKind(mode)}, not a regular file; an OCI layout is read only from regular files, so replace it with the file itself`,
  )
}

/** The one-line refusal of a file above its limit. Pure. */
export function overLimit(file: string, size: number, limit: number, what: string): FerryError {
  return new FerryError(
    'INVALID_LAYOUT',
    `${file} is ${size} bytes, above the ${describeSize(limit)} limit ferry reads for ${what}; the layout is damaged or not one ferry can load`,
  )
}

/**
 * Opens `file` for reading when it is a regular file, and gives its size. A symbolic link, pipe,
 * device or socket is refused naming what it is, without being read. Errors of the file system
 * (ENOENT, EACCES) reach the caller as they are, who knows what an absent file means.
 */
export async function openRegular(file: string): Promise<{handle: FileHandle; size: number}> {
  // lstat first, so a device is never even opened (opening some has effects of its own).
  const before = await lstat(file)
  if (!before.isFile()) throw notRegular(file, before.mode)
  let handle: FileHandle
  try {
    handle = await open(file, READ_FLAGS)
  } catch (error) {
    // Replaced by a link between the lstat and the open.
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw notRegular(file, constants.S_IFLNK)
    throw error
  }
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) throw notRegular(file, stats.mode)
    return {handle, size: stats.size}
  } catch (error) {
    await handle.close()
    throw error
  }
}

/** A regular file's bytes, at most `limit` of them: a bigger file is refused before it is read. */
export async function readRegular(file: string, limit: number, what: string): Promise<Buffer> {
  const {handle, size} = await openRegular(file)
  try {
    if (size > limit) throw overLimit(file, size, limit, what)
    return await readOpened(handle, size, file)
  } finally {
    await handle.close()
  }
}

/** The `size` bytes of an opened file (whose size was checked against its limit). */
export async function readOpened(handle: FileHandle, size: number, file: string): Promise<Buffer> {
  // One byte more than fstat said tells a file that grows while it is read (a writer still at it).
  const buffer = Buffer.alloc(size + 1)
  let filled = 0
  for (;;) {
    const {bytesRead} = await handle.read(buffer, filled, buffer.length - filled, filled)
    if (bytesRead === 0) break
    filled += bytesRead
    if (filled > size) throw new FerryError('INVALID_LAYOUT', `${file} grew while ferry read it; is another program writing the layout?`)
  }
  return buffer.subarray(0, filled)
}
