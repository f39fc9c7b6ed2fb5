/**
 * Where a save or backup puts its layout: a folder, or a tar file built from a staging folder
 * beside it (kept after a failed run so the next run resumes it). Pure.
 */
import {FerryError} from '../errors.js'
import type {Compression} from '../layout/archive.js'

export interface OutputTarget {
  /** The layout folder the engine writes. */
  dir: string
  /** Set when the result is a tar: the file and its compression. */
  archive?: {file: string; compression?: Compression}
}

const TAR_NAME = /\.(tar|tar\.gz|tgz|tar\.zst|tar\.zstd|tzst)$/i

export function outputTarget(output: string, compression: Compression | undefined): OutputTarget {
  const trimmed = output.replace(/\/+$/, '')
  if (trimmed === '') throw new FerryError('INVALID_CONFIG', '--output is empty; give a folder or a FILE.tar')
  if (!TAR_NAME.test(trimmed)) {
    if (compression)
      throw new FerryError('INVALID_CONFIG', `--compress ${compression} needs a tar file as --output (FILE.tar), not the folder ${JSON.stringify(output)}`)
    return {dir: trimmed}
  }
  const implied = /\.(tgz|tar\.gz)$/i.test(trimmed) ? 'gzip' : /\.(tar\.zstd?|tzst)$/i.test(trimmed) ? 'zstd' : undefined
  if (compression && implied && compression !== implied) {
    throw new FerryError('INVALID_CONFIG', `--output ${JSON.stringify(output)} says ${implied} but --compress says ${compression}`)
  }
  return {dir: `${trimmed}.layout`, archive: {file: trimmed, compression: compression ?? implied}}
}
