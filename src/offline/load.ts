/**
 * `ferry load`: every image of an OCI layout (a folder, or a tar of one) to a registry, with the
 * same engine as transfer. The layout is the source side of each job, found by digest, so a
 * layout written by ferry and one written by skopeo load the same way.
 */
import {mkdtemp, rm, stat} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import type {ParsedRules, Rule} from '../config/rules.js'
import type {CredentialStore} from '../config/security.js'
import {ConfigError, FerryError, type FerryCode} from '../errors.js'
import {unpackLayout} from '../layout/archive.js'
import {refNameOf, type IndexEntry} from '../layout/index-file.js'
import {ImageLayout, LAYOUT_REGISTRY, layoutEndpoints} from '../layout/layout.js'
import {readRefName, skopeoRefProblem, type SavedReference} from '../layout/ref-name.js'
import {INDEX_FILE} from '../layout/paths.js'
import {checkDigest, nameRefusal} from '../names.js'
import {parseRegistryHost, quote, repositoryPathProblem} from '../reference.js'
import {runTransfer, type TransferReport} from '../engine/run.js'
import type {Lock} from '../lock.js'
import {registryDestination, ruleDestination, type Destination} from './destinations.js'
import {frozenLoadRules, LAYOUT_LOCK_FILE, readLayoutLock} from './layout-lock.js'
import type {OfflineSettings} from './save.js'

/** A load of a layout's images; the caller reads the security file and any rule file (offline-files.ts). */
export interface LoadLayoutOptions extends OfflineSettings {
  /** A layout folder or a tar (plain, gzip or zstd) of one. */
  input: string
  credentials: CredentialStore
  /** Where the images go: `ruleDestinations` or `registryDestinations`. */
  destinations: Destinations
  /** Names the repository of entries whose ref name is a bare tag (`skopeo copy … oci:DIR:v1`). */
  repository?: string
  /**
   * --frozen: load only the images the lock names, at its digests. `lock` when the command read
   * one (--lock-file); the layout's own ferry.lock.yaml otherwise.
   */
  frozen?: {lock?: Lock; name?: string}
}

/** Where images go: one function from a saved image to its destination, or undefined to leave it. */
export type Destinations = {
  destinationOf(saved: SavedReference, digest: string): Destination | undefined
  unused(): ConfigError[]
  /** --ns keeps only the last path component, so two saved repositories may meet (pipeline/clash.ts). */
  mapping?: 'default'
}

export async function loadLayout(options: LoadLayoutOptions): Promise<TransferReport> {
  const {input, destinations, frozen, ...settings} = options
  const opened = await openLayout(input)
  try {
    // Referrers (and with referrers on, the tags of the referrer schemes) travel with their image.
    const travelling = await opened.layout.travelling(settings.referrers !== false)
    const loaded = loadRules(opened.layout.index.current(), destinations, {...options, travelling}, opened.indexFile)
    const {rules, errors, warnings} = frozen ? await frozenRules(loaded, frozen, opened) : loaded
    return await runTransfer({
      ...settings,
      rules,
      ruleErrors: errors,
      ruleWarnings: warnings,
      endpoints: layoutEndpoints(opened.layout, 'source'),
    })
  } finally {
    await opened.close()
  }
}

/** --frozen: the loaded rules the lock allows, the others as errors (one line each). */
async function frozenRules(
  loaded: ReturnType<typeof loadRules>,
  frozen: NonNullable<LoadLayoutOptions['frozen']>,
  opened: {layout: ImageLayout; lockFile: string},
): Promise<ReturnType<typeof loadRules>> {
  const lock = frozen.lock ?? (await readLayoutLock(opened.layout.root, opened.lockFile))
  if (!lock) throw new ConfigError(`${opened.lockFile}: no such file; --frozen loads by the lock a save writes into the layout (or give --lock-file FILE)`)
  const checked = frozenLoadRules(loaded.rules, lock, frozen.lock ? (frozen.name ?? 'the lock file') : opened.lockFile)
  return {rules: checked.rules, errors: [...loaded.errors, ...checked.errors], warnings: loaded.warnings}
}

/** One rule per index.json entry (by digest), with what cannot be loaded said, never skipped silently. */
export function loadRules(
  entries: readonly IndexEntry[],
  mapper: Destinations,
  options: {repository?: string; tagFilter?: (tag: string) => boolean; travelling?: ReadonlySet<IndexEntry>},
  indexFile: string,
): {rules: Rule[]; errors: ConfigError[]; warnings: string[]} {
  const rules: Rule[] = []
  const errors: ConfigError[] = []
  const warnings: string[] = []
  entries.forEach((entry, position) => {
    if (options.travelling?.has(entry)) return
    // The digest names a file under blobs/ and goes into the destination's URLs.
    const badDigest = nameRefusal(() => checkDigest(entry.digest, `manifests[${position}]`, 'not loaded'))
    if (badDigest) {
      errors.push(new ConfigError(badDigest.message, {file: indexFile, code: badDigest.code as FerryCode}))
      return
    }
    const refName = refNameOf(entry)
    if (refName === undefined) {
      warnings.push(
        `${indexFile}: manifests[${position}] (${entry.digest}) has no org.opencontainers.image.ref.name, so it has no name to load under; not loaded`,
      )
      return
    }
    let saved
    try {
      saved = readRefName(refName, options.repository)
    } catch (error) {
      if (!FerryError.is(error)) throw error
      errors.push(new ConfigError(`manifests[${position}]: ${error.message}`, {file: indexFile, code: 'INVALID_REFERENCE'}))
      return
    }
    const destination = mapper.destinationOf(saved, entry.digest)
    if (!destination) return
    // The engine filters listed tags only, and a load lists none: --includeTags/--excludeTags apply here.
    if (options.tagFilter && saved.tag !== undefined && !options.tagFilter(saved.tag)) return
    const problem = skopeoRefProblem(refName)
    if (problem) warnings.push(problem)
    rules.push({
      text: refName,
      source: {registry: LAYOUT_REGISTRY, repository: `${saved.registry}/${saved.repository}`, digest: entry.digest},
      destination,
      ...(mapper.mapping ? {mapping: mapper.mapping} : {}),
    })
  })
  errors.push(...mapper.unused())
  return {rules, errors, warnings}
}

/**
 * The destinations a rule file's rules give (read without a default registry: a destination is
 * what the file says). A load maps every image it pushes; a rule that cannot be read stops it
 * before anything moves.
 */
export function ruleDestinations(parsed: ParsedRules): Destinations {
  const [first, ...more] = parsed.errors
  if (first) throw new ConfigError(`${first.message}${more.length ? ` (and ${more.length} more rule errors)` : ''}`, {code: 'INVALID_RULE'})
  const used = new Set<Rule>()
  return {
    destinationOf(saved, digest) {
      const found = ruleDestination(saved, digest, parsed.rules)
      if (found) used.add(found.rule)
      return found?.destination
    },
    unused: () =>
      parsed.rules
        .filter((rule) => !used.has(rule))
        .map((rule) => new ConfigError(`rule ${quote(rule.text)} names no image in the layout`, {file: rule.file, line: rule.line, code: 'INVALID_RULE'})),
  }
}

/** --registry HOST [--ns NAMESPACE]: every image under that registry (and namespace). */
export function registryDestinations(options: {registry?: string; ns?: string}): Destinations {
  if (!options.registry) throw new ConfigError('say where the images go: --registry HOST [--ns NAMESPACE], or --ruleFile')
  let registry: string
  try {
    registry = parseRegistryHost(options.registry.replace(/^https?:\/\//, '').replace(/\/+$/, ''))
  } catch (error) {
    throw new ConfigError(`--registry: ${(error as Error).message}`)
  }
  const ns = options.ns?.trim().replace(/^\/+|\/+$/g, '') || undefined
  const wrong = ns === undefined ? undefined : repositoryPathProblem(ns)
  if (wrong) throw new ConfigError(`--ns ${quote(ns!)}: ${wrong}`)
  return {destinationOf: (saved) => registryDestination(saved, registry, ns), unused: () => [], ...(ns ? {mapping: 'default' as const} : {})}
}

/** The layout of a folder, or of a tar unpacked into a temporary folder removed afterwards. */
async function openLayout(input: string): Promise<{layout: ImageLayout; indexFile: string; lockFile: string; close(): Promise<void>}> {
  const info = await stat(input).catch(() => undefined)
  if (!info) throw new FerryError('INVALID_LAYOUT', `${input}: no such folder or file; give an OCI layout folder or a tar of one`)
  if (info.isDirectory()) {
    return {
      layout: await ImageLayout.forReading(input),
      indexFile: path.join(input, INDEX_FILE),
      lockFile: path.join(input, LAYOUT_LOCK_FILE),
      close: async () => undefined,
    }
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-load-'))
  try {
    await unpackLayout(input, dir)
    return {
      layout: await ImageLayout.forReading(dir),
      indexFile: `${input}: ${INDEX_FILE}`,
      lockFile: `${input}: ${LAYOUT_LOCK_FILE}`,
      close: () => rm(dir, {recursive: true, force: true}),
    }
  } catch (error) {
    await rm(dir, {recursive: true, force: true})
    throw error
  }
}
