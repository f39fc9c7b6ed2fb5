import {ConfigError} from '../errors.js'
import {normalizeRegistry, parseRegistryHost} from '../reference.js'
import {acrEndpoint, AcrTransport} from './acr-api.js'
import {splitRepository, type AcrEdition} from './acr-edition.js'
import {enterpriseEdition} from './acr-enterprise.js'
import {personalEdition} from './acr-personal.js'
import {timedLogin} from './acr-token.js'
import type {CredentialSource} from '../registry/auth.js'
import type {Logger} from '../report/logger.js'
import type {DestinationProvider, ProviderContext, ProviderModule, SourceProvider, SourceRepository} from './provider.js'
import {loginSource, TemporaryLoginCache} from './temporary-login.js'

type Side = 'source' | 'destination'

export interface AcrSettings {
  region: string
  /** Set: an enterprise instance (cri-…); absent: the personal edition. */
  instance?: string
  namespace?: string
  /** A registry host the user named, winning over the one the API gives (a VPC domain, say). */
  registry?: string
  endpoint: string
  accessKeyId: string
  accessKeySecret: string
}

/** Pure: the settings of one side, or the one-line error naming the flag to fix. */
export function acrSettings(context: Pick<ProviderContext, 'settings' | 'secrets' | 'env'>, side: Side): AcrSettings {
  const flag = side === 'source' ? 'from' : 'to'
  const region = context.settings.region?.trim()
  if (!region) throw new ConfigError(`acr needs the ${side} region (--${flag}Region), e.g. cn-hangzhou`)
  if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(region)) throw new ConfigError(`acr: --${flag}Region ${JSON.stringify(region)} is not a region id such as cn-hangzhou`)
  const instance = context.settings.instance?.trim() || undefined
  if (instance !== undefined && !/^cri-[a-z0-9]+$/.test(instance)) {
    throw new ConfigError(
      `acr: --${flag}Instance must be an enterprise instance id (cri-…), found ${JSON.stringify(instance)}; leave it out for the personal edition`,
    )
  }
  const namespace = context.settings.namespace?.trim().replace(/^\/+|\/+$/g, '') || undefined
  if (side === 'source' && namespace?.includes('/')) throw new ConfigError(`acr namespaces have one level: --fromNamespace ${JSON.stringify(namespace)}`)
  const registryText = context.settings.registry
    ?.trim()
    .replace(/^https?:\/\//, '')
    .replace(/\/+$/, '')
  const registry = registryText ? normalizeRegistry(parseRegistryHost(registryText)) : undefined
  const secret = context.secrets.acr
  if (!secret?.secretId || !secret.secretKey) {
    throw new ConfigError('acr needs API keys: add "acr: {secretId: …, secretKey: …}" (an AccessKey pair) to the secret file given with --secretFile')
  }
  return {region, instance, namespace, registry, endpoint: acrEndpoint(region, context.env), accessKeyId: secret.secretId, accessKeySecret: secret.secretKey}
}

interface Opened {
  settings: AcrSettings
  edition: AcrEdition
  registry: string
  credentials: CredentialSource
}

/**
 * Settings, API client, edition and registry host of one side. The host is settled here, not
 * during the run: the engine matches credentials to it before the first repository is listed.
 */
async function open(context: ProviderContext, side: Side): Promise<Opened> {
  const settings = acrSettings(context, side)
  const api = await AcrTransport.open({
    endpoint: settings.endpoint,
    accessKeyId: settings.accessKeyId,
    accessKeySecret: settings.accessKeySecret,
    limiter: context.limiter,
    side,
  })
  const edition = settings.instance ? enterpriseEdition(api, settings.instance, {side}) : personalEdition(api, settings.region)
  const host = settings.registry ?? (await edition.registryHost(side === 'source' ? settings.namespace : undefined))
  return {
    settings,
    edition,
    registry: normalizeRegistry(parseRegistryHost(host)),
    credentials: editionLogins(edition),
  }
}

/**
 * The `credentials` source a provider's access() returns: the registry client calls it whenever
 * it builds a basic header or fetches a bearer token, so it is cheap while the login is fresh.
 */
function editionLogins(edition: AcrEdition): CredentialSource {
  return loginSource(
    new TemporaryLoginCache(async () => {
      const issuedAt = Date.now()
      return timedLogin(await edition.login(), issuedAt)
    }),
  )
}

/** Repositories being deleted are listed under RepoStatus ALL, but nothing can be pulled from them. */
const GONE = new Set(['DELETING', 'DELETED'])

async function* enumerate(
  edition: AcrEdition,
  namespace: string | undefined,
  logger: Logger | undefined,
  signal?: AbortSignal,
): AsyncGenerator<SourceRepository> {
  const namespaces: AsyncIterable<string[]> | Iterable<string[]> = namespace ? [[namespace]] : edition.namespaces(signal)
  for await (const page of namespaces) {
    for (const name of page) {
      for await (const repositories of edition.repositories(name, signal)) {
        for (const repository of repositories) {
          if (repository.status && GONE.has(repository.status.toUpperCase())) {
            logger?.warn(`acr: ${repository.namespace}/${repository.name} is ${repository.status.toLowerCase()}: left out`)
            continue
          }
          // One repository's tags are gathered whole (a rule carries its tag list); repositories still stream.
          const tags: string[] = []
          for await (const tagPage of edition.tags(repository, signal)) tags.push(...tagPage)
          yield {repository: `${repository.namespace}/${repository.name}`, tags}
        }
      }
    }
  }
}

/**
 * Creates namespaces and repositories before the first push into them. Each namespace's list
 * is read once, so a namespace (or repository) that is already there costs no create call and
 * needs no create permission; a create that races someone else's counts as done.
 */
class Preparer {
  private namespaceList?: Promise<Set<string>>
  private readonly namespaces = new Map<string, Promise<Set<string>>>()
  private readonly repositories = new Map<string, Promise<void>>()

  constructor(private readonly edition: AcrEdition) {}

  prepare(repository: string, signal?: AbortSignal): Promise<void> {
    const parts = splitRepository(repository, this.edition.nestedNames)
    if ('problem' in parts) return Promise.reject(new ConfigError(parts.problem))
    const key = `${parts.namespace}/${parts.name}`
    return remember(this.repositories, key, async () => {
      const existing = await this.namespace(parts.namespace, signal)
      if (!existing.has(parts.name)) await this.edition.createRepository(parts.namespace, parts.name, signal)
    })
  }

  /** Ensures the namespace exists; resolves to the repositories it held before ferry came. */
  private namespace(namespace: string, signal?: AbortSignal): Promise<Set<string>> {
    return remember(this.namespaces, namespace, async () => {
      this.namespaceList ??= collect(this.edition.namespaces(signal))
      const known = await this.namespaceList.catch((error: unknown) => {
        this.namespaceList = undefined
        throw error
      })
      if (!known.has(namespace)) {
        await this.edition.createNamespace(namespace, signal)
        return new Set<string>()
      }
      const names = new Set<string>()
      for await (const page of this.edition.repositories(namespace, signal)) for (const repository of page) names.add(repository.name)
      return names
    })
  }
}

/** One call per key shared by concurrent callers; a failure is forgotten so a retried job tries again. */
function remember<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let pending = cache.get(key)
  if (!pending) {
    pending = make()
    cache.set(key, pending)
    pending.catch(() => cache.delete(key))
  }
  return pending
}

async function collect(pages: AsyncIterable<string[]>): Promise<Set<string>> {
  const all = new Set<string>()
  for await (const page of pages) for (const item of page) all.add(item)
  return all
}

/**
 * Alibaba Cloud Container Registry: an enterprise instance (--fromInstance/--toInstance cri-…)
 * or the personal edition of a region. Lists namespaces, repositories and tags through the API,
 * creates namespaces and repositories at a destination, and logs in to the registry with the
 * temporary credentials the API issues, refreshed before they expire.
 */
export const acrProvider: ProviderModule = {
  name: 'acr',
  summary: 'Alibaba Cloud Container Registry, enterprise instance or personal edition (API keys from --secretFile, temporary registry logins)',

  async source(context: ProviderContext): Promise<SourceProvider> {
    const side = await open(context, 'source')
    return {
      name: 'acr',
      registry: side.registry,
      repositories: (signal) => enumerate(side.edition, side.settings.namespace, context.logger, signal),
      access: () => ({credentials: side.credentials}),
    }
  },

  async destination(context: ProviderContext): Promise<DestinationProvider> {
    const side = await open(context, 'destination')
    const preparer = new Preparer(side.edition)
    return {
      name: 'acr',
      registry: side.registry,
      prepare: (repository, signal) => preparer.prepare(repository, signal),
      access: () => ({credentials: side.credentials}),
    }
  },
}
