/**
 * A layout as one file: a tar with the layout at its root (node-tar), optionally compressed.
 * gzip goes through node's zlib; zstd through the `zstd` program (Debian package `zstd`),
 * because Node 20's zlib has no zstd.
 */
import {spawn} from 'node:child_process'
import {createReadStream, createWriteStream} from 'node:fs'
import {open, readdir, rename, rm} from 'node:fs/promises'
import path from 'node:path'
import type {Readable, Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGunzip, createGzip} from 'node:zlib'
import * as tar from 'tar'

import {FerryError} from '../errors.js'
import {TEMPORARY_PREFIX, temporaryName} from './paths.js'

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

/** Unpacks a (plain, gzip or zstd) tar of a layout into `dir`; node-tar keeps every entry inside it. */
export async function unpackLayout(file: string, dir: string): Promise<void> {
  const head = Buffer.alloc(4)
  const handle = await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new FerryError('INVALID_LAYOUT', `${file}: cannot read (${error.code ?? 'error'})`)
  })
  try {
    await handle.read(head, 0, 4, 0)
  } finally {
    await handle.close()
  }
  const compression = compressionOf(head)
  let failure: unknown
  const extract = tar.x({cwd: dir, strict: true, onwarn: (_code: string, message: string) => (failure ??= message)}) as unknown as Writable
  try {
    if (compression === 'gzip') await pipeline(createReadStream(file), createGunzip(), extract)
    else if (compression === 'zstd') await throughZstd(['-d', '-q', '-c'], createReadStream(file), extract)
    else await pipeline(createReadStream(file), extract)
  } catch (error) {
    throw new FerryError('INVALID_LAYOUT', `${file}: not a readable tar of an OCI layout (${(error as Error).message})`)
  }
  if (failure) throw new FerryError('INVALID_LAYOUT', `${file}: ${String(failure)}`)
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
