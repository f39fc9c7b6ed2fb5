// An independent second opinion on registry contents: skopeo (containers/
// image) shares no code with ferry or with the harness's own HTTP client.
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {removeDirOnExit} from './cleanup.js'
import {run} from './exec.js'
import type {Endpoint} from './http.js'

const SKOPEO_BIN = process.env.FERRY_TEST_SKOPEO_BIN ?? 'skopeo'

/** Anything with a URL works; TestRegistry also supplies certDir. */
export type SkopeoRegistry = Endpoint & {certDir?: string}

const certDirs = new Map<string, string>()

/** skopeo wants a directory of *.crt files, not a PEM; make one if needed. */
function certDirFor(registry: SkopeoRegistry): string | undefined {
  if (registry.certDir !== undefined) return registry.certDir
  if (registry.caPem === undefined) return undefined
  let dir = certDirs.get(registry.caPem)
  if (dir === undefined) {
    const root = mkdtempSync(path.join(os.tmpdir(), 'ferry-skopeo-ca-'))
    removeDirOnExit(root)
    dir = path.join(root, 'certs')
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'ca.crt'), registry.caPem)
    certDirs.set(registry.caPem, dir)
  }
  return dir
}

/**
 * TLS and credential flags for one side. `prefix` is '' for inspect and
 * list-tags, 'src-' / 'dest-' for copy. Without credentials we pass
 * --no-creds so a developer's ~/.docker/config.json cannot leak in.
 */
export function skopeoFlags(registry: SkopeoRegistry, prefix: '' | 'src-' | 'dest-' = ''): string[] {
  const flags: string[] = []
  if (new URL(registry.url).protocol === 'http:') {
    flags.push(`--${prefix}tls-verify=false`)
  } else {
    flags.push(`--${prefix}tls-verify=true`)
    const dir = certDirFor(registry)
    if (dir !== undefined) flags.push(`--${prefix}cert-dir`, dir)
  }
  if (registry.username !== undefined) {
    flags.push(`--${prefix}creds`, `${registry.username}:${registry.password ?? ''}`)
  } else {
    flags.push(`--${prefix}no-creds`)
  }
  return flags
}

/** `docker://HOST/REF` where REF is `repo:tag` or `repo@sha256:…`. */
export function dockerRef(registry: SkopeoRegistry, reference: string): string {
  return `docker://${new URL(registry.url).host}/${reference}`
}

export async function skopeo(args: string[], timeoutMs = 60_000): Promise<Buffer> {
  return (await run(SKOPEO_BIN, args, {timeoutMs})).stdout
}

/** The manifest exactly as the registry serves it (an index stays an index). */
export async function skopeoRawManifest(registry: SkopeoRegistry, reference: string): Promise<Buffer> {
  return skopeo(['inspect', '--raw', ...skopeoFlags(registry), dockerRef(registry, reference)])
}

/** sha256 of the served manifest bytes: the digest a pull by digest would use. */
export async function skopeoDigest(registry: SkopeoRegistry, reference: string): Promise<string> {
  const raw = await skopeoRawManifest(registry, reference)
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`
}

export async function skopeoTags(registry: SkopeoRegistry, repository: string): Promise<string[]> {
  const out = await skopeo(['list-tags', ...skopeoFlags(registry), dockerRef(registry, repository)])
  return (JSON.parse(out.toString('utf8')) as {Tags: string[] | null}).Tags ?? []
}

/**
 * Copies with skopeo, e.g. to build a reference result to compare ferry's
 * against. Defaults: all platforms, and fail rather than alter digests.
 */
export async function skopeoCopy(
  source: SkopeoRegistry,
  sourceRef: string,
  destination: SkopeoRegistry,
  destinationRef: string,
  options: {all?: boolean; preserveDigests?: boolean; extraArgs?: string[]} = {},
): Promise<void> {
  await skopeo(
    [
      '--insecure-policy',
      'copy',
      ...((options.all ?? true) ? ['--all'] : []),
      ...((options.preserveDigests ?? true) ? ['--preserve-digests'] : []),
      ...skopeoFlags(source, 'src-'),
      ...skopeoFlags(destination, 'dest-'),
      ...(options.extraArgs ?? []),
      dockerRef(source, sourceRef),
      dockerRef(destination, destinationRef),
    ],
    300_000,
  )
}
