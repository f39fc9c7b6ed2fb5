/**
 * A layout as one file: a tar with the layout at its root (node-tar), optionally compressed.
 * gzip goes through node's zlib; zstd through the `zstd` program (Debian package `zstd`),
 * because Node 20's zlib has no zstd.
 */
import {spawn} from 'node:child_process'
import {constants, createReadStream, createWriteStream, type Stats} from 'node:fs'
import {open, readdir, rename, rm} from 'node:fs/promises'
import path from 'node:path'
import type {Readable, Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGunzip, createGzip} from 'node:zlib'
import * as tar from 'tar'

import {FerryError} from '../errors.js'
import {TEMPORARY_PREFIX, temporaryName} from './paths.js'
import {fileKind} from './regular-file.js'

export type Compression = 'gzip' | 'zstd'

/** Packs the layout in `dir` into `file`, written under a temporary name and renamed when complete. */
export async function packLayout(dir: string, file: string, compression: Compression | undefined): Promise<void> {
  const folder = path.dirname(file)
  const suffix = `-${path.basename(file)}`
  // A pack killed before its rename left a partial tar under a temporary name: not kept.
  for (const name of await readdir(folder)) {
    if (name.startsWith(TEMPORARY_PREFIX) && name.endsWith(suffix)) await rm(path.join(folder, name), {force: true})
  }
  const temporary = path.join(folder, `${temporaryName()}${suffix}`)
  try {
    const entries = (await readdir(dir)).sort()
    const archive = tar.c({cwd: dir, portable: true, noDirRecurse: false}, entries) as unknown as Readable
    const out = createWriteStream(temporary, {flags: 'wx'})
    if (compression === 'gzip') await pipeline(archive, createGzip(), out)
    else if (compression === 'zstd') await throughZstd(['-q', '-c', '-T0'], archive, out)
    else await pipeline(archive, out)
    const handle = await open(temporary, 'r+')
    await handle.sync().finally(() => handle.close())
    await rename(temporary, file)
  } catch (error) {
    await rm(temporary, {force: true})
    throw error
  }
}

/** What the first bytes of a file say it is. Pure. */
export function compressionOf(head: Buffer): Compression | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip'
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd'
  return undefined
}

/**
 * Unpacks a (plain, gzip or zstd) tar of a layout into `dir`. Only files and folders are
 * unpacked, each inside `dir`: a symbolic link, device or pipe in the tar, or a path leading out
 * of it, refuses the whole tar (node-tar alone would refuse `..` but create links). A hard link
 * is unpacked only to a file this same tar put there before it (node-tar packs hard-linked
 * files so), which makes it one more regular file inside the layout.
 */
export async function unpackLayout(file: string, dir: string): Promise<void> {
  const head = Buffer.alloc(4)
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch((error: NodeJS.ErrnoException) => {
    throw new FerryError('INVALID_LAYOUT', `${file}: cannot read (${error.code ?? 'error'})`)
  })
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) throw new FerryError('INVALID_LAYOUT', `${file} is ${fileKind(stats.mode)}; give an OCI layout folder or a tar file of one`)
    await handle.read(head, 0, 4, 0)
  } finally {
    await handle.close()
  }
  const compression = compressionOf(head)
  let failure: unknown
  let refused: string | undefined
  const files = new Set<string>()
  const filter = (_path: string, entry: tar.ReadEntry | Stats): boolean => {
    const {path: entryPath, type, linkpath} = entry as tar.ReadEntry
    const problem = tarEntryProblem({path: entryPath, type, linkpath}, files)
    if (problem) {
      refused ??= problem
      return false
    }
    if (type === 'File' || type === 'OldFile' || type === 'ContiguousFile') files.add(tarPath(entryPath))
    return refused === undefined
  }
  const extract = tar.x({cwd: dir, strict: true, filter, onwarn: (_code: string, message: string) => (failure ??= message)}) as unknown as Writable
  try {
    if (compression === 'gzip') await pipeline(createReadStream(file), createGunzip(), extract)
    else if (compression === 'zstd') await throughZstd(['-d', '-q', '-c'], createReadStream(file), extract)
    else await pipeline(createReadStream(file), extract)
  } catch (error) {
    if (refused) throw refusedTar(file, refused)
    throw new FerryError('INVALID_LAYOUT', `${file}: not a readable tar of an OCI layout (${(error as Error).message})`)
  }
  if (refused) throw refusedTar(file, refused)
  if (failure) throw new FerryError('INVALID_LAYOUT', `${file}: ${String(failure)}`)
}

function refusedTar(file: string, problem: string): FerryError {
  return new FerryError('INVALID_LAYOUT', `${file}: ${problem}; a layout tar holds only files and folders, so it is not loaded`)
}

/** A tar entry's path as the layout names it: no `./` in front, no `/` behind. Pure. */
export function tarPath(entryPath: string): string {
  return path.posix
    .normalize(entryPath)
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '')
}

/**
 * Why a tar entry may not be unpacked into a layout, or undefined when it may; `files` are the
 * files the tar has unpacked so far (as tarPath gives them). Pure.
 */
export function tarEntryProblem(entry: {path: string; type: string; linkpath?: string}, files: ReadonlySet<string>): string | undefined {
  const name = JSON.stringify(entry.path)
  if (entry.path.startsWith('/')) return `entry ${name} has an absolute path`
  if (entry.path.split(/[\\/]/).includes('..')) return `entry ${name} leads outside the layout ("..")`
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
    case 'Directory':
      return undefined
    case 'Link':
      if (entry.linkpath !== undefined && files.has(tarPath(entry.linkpath))) return undefined
      return `entry ${name} is a hard link to ${JSON.stringify(entry.linkpath ?? '')}, which is not a file earlier in the tar`
    case 'SymbolicLink':
      return `entry ${name} is a symbolic link (to ${JSON.stringify(entry.linkpath ?? '')})`
    case 'CharacterDevice':
      return `entry ${name} is a character device`
    case 'BlockDevice':
      return `entry ${name} is a block device`
    case 'FIFO':
      return `entry ${name} is a named pipe (FIFO)`
    default:
      return `entry ${name} is a ${entry.type} entry`
  }
}

/** input → zstd ARGS → output, failing with the program's own message when it fails. */
async function throughZstd(args: string[], input: Readable, output: Writable): Promise<void> {
  const child = spawn('zstd', args, {stdio: ['pipe', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new FerryError('ZSTD_MISSING', 'zstd compression needs the zstd program on PATH (Debian/Ubuntu: apt-get install zstd)')
          : error,
      ),
    )
    child.once('close', (code) => (code === 0 ? resolve() : reject(new FerryError('ZSTD_FAILED', `zstd exited with ${code}: ${stderr.trim()}`))))
  })
  exited.catch(() => undefined)
  try {
    await Promise.all([pipeline(input, child.stdin), pipeline(child.stdout, output), exited])
  } catch (error) {
    // A broken pipe is the echo of zstd failing (or missing): its own reason says more.
    await exited
    throw error
  }
}
