import {ConfigError, FerryError} from '../errors.js'
import {checkRepositoryName, checkTag, nameRefusal} from '../names.js'
import type {RuleItem} from '../pipeline/generate.js'
import type {CredentialStore} from '../config/security.js'
import type {RegistryAccess} from '../registry/client.js'
import type {RequestLimiter} from '../registry/limiter.js'
import {compileSelection, type TagSelector} from '../select/tags.js'
import {runTransfer, type EngineOptions, type TransferReport} from '../engine/run.js'
import type {DestinationProvider, SourceProvider} from './provider.js'

export interface MigrateOptions extends Omit<
  EngineOptions,
  'rules' | 'ruleErrors' | 'credentials' | 'prepareDestination' | 'limiter' | 'distinctDestinations'
> {
  from: SourceProvider
  to: DestinationProvider
  credentials: CredentialStore
  limiter: RequestLimiter
  /** Put every repository under this namespace at the destination (replacing the source's first path component). */
  toNamespace?: string
  /** Which enumerated repositories to copy (--repositories globs). */
  repositoryFilter?: (repository: string) => boolean
}

/** Destination path of a source repository. Pure. */
export function destinationRepository(repository: string, toNamespace: string | undefined): string {
  if (!toNamespace) return repository
  const parts = repository.split('/')
  const rest = parts.length > 1 ? parts.slice(1) : parts
  return [toNamespace.replace(/^\/+|\/+$/g, ''), ...rest].join('/')
}

/** The provider's enumeration as rules, one per repository, streamed as pages arrive. */
export async function* providerRules(
  from: SourceProvider,
  to: DestinationProvider,
  options: {
    toNamespace?: string
    signal?: AbortSignal
    onOmitted?: (repository: string, count: number) => void
    repositoryFilter?: (repository: string) => boolean
    tagFilter?: (tag: string) => boolean
    /** --semver/--latest on tags the provider lists (tags the registry lists are the generator's). */
    selector?: TagSelector
  },
): AsyncGenerator<RuleItem> {
  const listedBy = `${from.name}:${from.registry}`
  for await (const found of from.repositories(options.signal)) {
    if (FerryError.is(found)) {
      yield {rule: listedBy, refused: found}
      continue
    }
    // A provider's answer is input like a registry's: its names go into URLs at both ends.
    const refused = nameRefusal(() => checkRepositoryName(found.repository, `${from.name} provider at ${from.registry}, repositories`, 'skipped'))
    if (refused) {
      yield {rule: listedBy, refused}
      continue
    }
    if (options.repositoryFilter && !options.repositoryFilter(found.repository)) continue
    if (found.omittedTags) options.onOmitted?.(found.repository, found.omittedTags)
    const valid: string[] = []
    for (const tag of found.tags ?? []) {
      const refusedTag = nameRefusal(() => checkTag(tag, `${from.name} provider at ${from.registry}, tags of ${found.repository}`, 'skipped'))
      if (refusedTag) yield {rule: `${listedBy}/${found.repository}`, refused: refusedTag}
      else valid.push(tag)
    }
    const listed = found.tags && valid
    // Tags a provider listed are filtered here; tags the registry lists, by the generator.
    const filtered = listed && options.tagFilter ? listed.filter(options.tagFilter) : listed
    const tags = filtered && options.selector ? options.selector.choose(filtered) : filtered
    if (tags && tags.length === 0) continue
    const destination = destinationRepository(found.repository, options.toNamespace)
    // A name the destination would refuse fails here, before any of its blobs is sent.
    const problem = to.check?.(destination)
    if (problem) {
      yield {rule: `${listedBy}/${found.repository}`, refused: new ConfigError(problem, {code: 'INVALID_NAME'})}
      continue
    }
    yield {
      text: `${from.name}:${from.registry}/${found.repository}`,
      source: {registry: from.registry, repository: found.repository, tags},
      destination: {registry: to.registry, repository: destination},
      ...(options.toNamespace ? {mapping: 'toNamespace' as const} : {}),
    }
  }
}

/** Provider access first (temporary tokens), then the security file. */
export function layeredCredentials(base: CredentialStore, sides: {registry: string; access?: () => RegistryAccess; name: string}[]): CredentialStore {
  return {
    lookup(registry, repository) {
      const side = sides.find((candidate) => candidate.registry === registry && candidate.access)
      if (!side) return base.lookup(registry, repository)
      // TLS settings still come from the security file; only the credentials are the provider's,
      // so the file's place is not named in messages about them.
      const {writtenIn: _fileLine, ...fromFile} = base.lookup(registry, repository)
      return {...fromFile, ...side.access!(), entry: `provider:${side.name}`}
    },
    secrets: () => base.secrets(),
  }
}

/**
 * One-click migration: a source provider enumerates, a destination provider prepares, and the
 * same engine as `transfer` copies.
 */
export async function migrate(options: MigrateOptions): Promise<TransferReport> {
  const {from, to} = options
  const omitted: {repository: string; count: number}[] = []
  const rules = providerRules(from, to, {
    toNamespace: options.toNamespace,
    repositoryFilter: options.repositoryFilter,
    tagFilter: options.tagFilter,
    selector: compileSelection(options.tagSelection),
    signal: options.signal,
    onOmitted: (repository, count) => {
      omitted.push({repository, count})
      options.logger?.warn(`${from.registry}/${repository}: ${count} older tags left out by the tag limit`)
    },
  })
  const credentials = layeredCredentials(options.credentials, [
    {registry: from.registry, access: from.access?.bind(from), name: from.name},
    {registry: to.registry, access: to.access?.bind(to), name: to.name},
  ])
  const report = await runTransfer({
    ...options,
    rules,
    // Without --toNamespace each repository keeps its path: two can never meet, so the
    // enumeration streams into copies. With it, two may merge, so it is read in full first.
    distinctDestinations: !options.toNamespace,
    credentials,
    limiter: options.limiter,
    prepareDestination: (_registry, repository, signal) => to.prepare(repository, signal),
    ...(to.removeTag
      ? {
          removeTag: (_registry: string, repository: string, tag: string, digest: string, signal?: AbortSignal) =>
            to.removeTag!(repository, tag, digest, signal),
        }
      : {}),
  })
  return {...report, omittedTags: omitted}
}
