/**
 * Where things live in an OCI image layout (image-spec "image-layout"): the `oci-layout` marker,
 * `index.json`, and content-addressed blobs under `blobs/<algorithm>/<hex>`. Pure, except
 * `prepareLayout` and `removeTemporaries`, which touch the folder.
 */
import {lstat, mkdir, readdir, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {FerryError} from '../errors.js'
import {fileKind, MARKER_LIMIT, readRegular} from './regular-file.js'

export const OCI_LAYOUT_FILE = 'oci-layout'
export const INDEX_FILE = 'index.json'
export const BLOBS_DIR = 'blobs'
export const LAYOUT_VERSION = '1.0.0'

/**
 * Every temporary file ferry writes in a layout starts with this, so a run after a crash can
 * find and remove what a killed run left; no committed name (a hex digest, index.json) starts so.
 */
export const TEMPORARY_PREFIX = '.ferry-tmp-'

const DIGEST = /^(sha256|sha512):([a-f0-9]+)$/

/** `blobs/sha256/<hex>` under `root`; a malformed digest cannot name a path outside it. */
export function blobPath(root: string, digest: string): string {
  const match = DIGEST.exec(digest)
  if (!match) throw new FerryError('INVALID_DIGEST', `layout ${root}: ${JSON.stringify(digest)} is not a digest ferry can store`)
  return path.join(root, BLOBS_DIR, match[1], match[2])
}

export function temporaryName(): string {
  return `${TEMPORARY_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 10)}`
}

/** Makes `root` a layout (idempotent): the marker, the blob folder; index.json comes with the first image. */
export async function prepareLayout(root: string): Promise<void> {
  try {
    await makeFolders(path.join(root, BLOBS_DIR, 'sha256'))
    const marker = path.join(root, OCI_LAYOUT_FILE)
    await checkFolders(root)
    const existing = await readMarker(marker)
    // 'wx': a dangling link under the marker's name is not followed to write somewhere else.
    if (existing === undefined) await writeFile(marker, `${JSON.stringify({imageLayoutVersion: LAYOUT_VERSION})}\n`, {flag: 'wx'})
    else checkMarker(existing, marker)
  } catch (error) {
    if (FerryError.is(error)) throw error
    const {code, message} = error as NodeJS.ErrnoException
    throw new FerryError('LAYOUT_UNWRITABLE', `${root}: cannot make an OCI layout here (${code ?? message})`)
  }
}

/**
 * `mkdir -p`, one level at a time: Node 20's recursive mkdir spins forever where a parent
 * cannot hold folders (under /proc), instead of failing.
 */
async function makeFolders(dir: string): Promise<void> {
  const absolute = path.resolve(dir)
  const levels: string[] = []
  for (let at = absolute; at !== path.dirname(at); at = path.dirname(at)) levels.unshift(at)
  for (const level of levels) {
    await mkdir(level).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error
    })
  }
}

/** A folder that is not a layout is refused with the file that says so. */
export async function checkLayout(root: string): Promise<void> {
  const marker = path.join(root, OCI_LAYOUT_FILE)
  let text: string | undefined
  try {
    text = await readMarker(marker)
  } catch (error) {
    if (FerryError.is(error)) throw error
    throw new FerryError('INVALID_LAYOUT', `${marker}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  if (text === undefined) throw new FerryError('INVALID_LAYOUT', `${root} is not an OCI image layout: ${OCI_LAYOUT_FILE} is missing`)
  checkMarker(text, marker)
  await checkFolders(root)
}

/** The marker's text; undefined when there is none. */
async function readMarker(marker: string): Promise<string | undefined> {
  try {
    return (await readRegular(marker, MARKER_LIMIT, `an ${OCI_LAYOUT_FILE} marker`)).toString('utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/**
 * The blob folders must be folders of the layout itself, not links: files are opened without
 * following a link, but that guards the last part of a path only, and a linked `blobs/sha256`
 * would send every read and write of the layout wherever the link points (a tar or a copied
 * folder can carry one). Allowing a link "when it stays inside" would need a check that a
 * rename can undo between check and use, and a layout whose blobs live elsewhere is better
 * served by a bind mount; so a linked blob folder is refused.
 */
async function checkFolders(root: string): Promise<void> {
  for (const folder of [path.join(root, BLOBS_DIR), path.join(root, BLOBS_DIR, 'sha256'), path.join(root, BLOBS_DIR, 'sha512')]) {
    const stats = await lstat(folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw new FerryError('INVALID_LAYOUT', `${folder}: cannot read (${error.code ?? error.message})`)
    })
    if (stats && !stats.isDirectory()) {
      throw new FerryError(
        'INVALID_LAYOUT',
        `${folder} is ${fileKind(stats.mode)}, not a folder; ferry follows no links inside a layout, so make it a real folder`,
      )
    }
  }
}

function checkMarker(text: string, file: string): void {
  let version: unknown
  try {
    version = (JSON.parse(text) as {imageLayoutVersion?: unknown}).imageLayoutVersion
  } catch {
    throw new FerryError('INVALID_LAYOUT', `${file}: not JSON; an OCI layout marker is {"imageLayoutVersion": "1.0.0"}`)
  }
  if (typeof version !== 'string' || !version.startsWith('1.')) {
    throw new FerryError('INVALID_LAYOUT', `${file}: imageLayoutVersion ${JSON.stringify(version)} is not a 1.x layout`)
  }
}

/** Removes what a killed run left behind (temporary blobs and index files); returns how many. */
export async function removeTemporaries(root: string): Promise<number> {
  let removed = 0
  for (const folder of [root, path.join(root, BLOBS_DIR, 'sha256'), path.join(root, BLOBS_DIR, 'sha512')]) {
    const names = await readdir(folder).catch(() => [] as string[])
    for (const name of names) {
      if (!name.startsWith(TEMPORARY_PREFIX)) continue
      await rm(path.join(folder, name), {force: true})
      removed++
    }
  }
  return removed
}
