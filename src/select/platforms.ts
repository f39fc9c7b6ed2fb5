/**
 * Platforms (`os/architecture[/variant]`): the one parser, formatter and matcher, for every
 * `--platform` and a rule's `platform`. transfer's --platform copies a subset of a multi-platform
 * index: a new index of the same media type whose other fields and kept child entries are the
 * source's, so every child manifest keeps its digest and only the index digest changes. save's
 * --platform takes one child instead (offline/platform.ts).
 */
import {sha256Digest} from '../digest.js'
import {ConfigError} from '../errors.js'

export interface Platform {
  os: string
  architecture: string
  /** Absent: any variant matches (`linux/arm` matches `linux/arm/v7`). */
  variant?: string
}

/** `os/architecture[/variant]`; throws ConfigError naming `label` otherwise. Pure. */
export function parsePlatform(text: string, label = '--platform'): Platform {
  const parts = text.trim().split('/')
  if (parts.length < 2 || parts.length > 3 || parts.some((part) => !/^[a-z0-9._-]+$/i.test(part))) {
    throw new ConfigError(`${label} ${JSON.stringify(text)} is not a platform; write os/architecture or os/architecture/variant (linux/amd64, linux/arm/v7)`)
  }
  const [os, architecture, variant] = parts
  return variant === undefined ? {os, architecture} : {os, architecture, variant}
}

/** A comma-separated list or repeated values (`linux/amd64,linux/arm64`). Pure. */
export function parsePlatforms(values: readonly string[], label = '--platform'): Platform[] {
  return values
    .flatMap((value) => value.split(','))
    .filter((value) => value.trim() !== '')
    .map((value) => parsePlatform(value, label))
}

export function formatPlatform(platform: Partial<Platform> | undefined): string {
  if (!platform) return 'unknown platform'
  return [platform.os ?? '?', platform.architecture ?? '?', platform.variant].filter((part) => part !== undefined).join('/')
}

/** Whether an image's platform is one of those asked for. Pure. */
export function platformMatches(wanted: readonly Platform[], actual: {os?: string; architecture?: string; variant?: string} | undefined): boolean {
  if (!actual) return false
  return wanted.some(
    (want) => want.os === actual.os && want.architecture === actual.architecture && (want.variant === undefined || want.variant === actual.variant),
  )
}

/** The first index entry of `platform` (a variant, when asked for, must match too). Pure. */
export function pickPlatform<T extends {platform?: Partial<Platform>}>(manifests: readonly T[], platform: Platform): T | undefined {
  return manifests.find((child) => platformMatches([platform], child.platform))
}

export interface IndexSubset {
  /** The manifest to push under the destination tag: the source's own bytes when every child is kept. */
  bytes: Buffer
  digest: string
  /** Child entries kept, as the source lists them. */
  kept: unknown[]
  total: number
}

interface IndexEntry {
  digest?: unknown
  platform?: {os?: string; architecture?: string; variant?: string}
  annotations?: Record<string, unknown>
}

/**
 * The index holding only the children of the wanted platforms, plus attestations that refer to a
 * kept child (buildx's `vnd.docker.reference.digest`). Undefined when no child matches. The JSON
 * keeps the source's field order and indentation, so the same source gives the same digest on
 * every run (the skip check of a re-run depends on that). Pure.
 */
export function subsetIndex(source: Buffer, wanted: readonly Platform[]): IndexSubset | undefined {
  const doc = JSON.parse(source.toString('utf8')) as {manifests?: IndexEntry[]}
  const entries = Array.isArray(doc.manifests) ? doc.manifests : []
  const platformKept = entries.filter((entry) => platformMatches(wanted, entry.platform))
  if (platformKept.length === 0) return undefined
  const keptDigests = new Set(platformKept.map((entry) => entry.digest))
  const kept = entries.filter((entry) => keptDigests.has(entry.digest) || keptDigests.has(entry.annotations?.['vnd.docker.reference.digest']))
  if (kept.length === entries.length) return {bytes: source, digest: sha256Digest(source), kept, total: entries.length}
  const bytes = Buffer.from(JSON.stringify({...doc, manifests: kept}, null, indentationOf(source)))
  return {bytes, digest: sha256Digest(bytes), kept, total: entries.length}
}

/** The indentation a JSON text was written with: 0 when compact. */
function indentationOf(source: Buffer): string | number {
  const match = /^\{\r?\n([ \t]+)"/.exec(source.toString('utf8', 0, 64))
  return match ? match[1] : 0
}
