import {ConfigError} from '../errors.js'
import {parseRegistryHost} from '../reference.js'
import {apiKeys, createTencentApi, PAGE_SIZE, regionOf, type TcrResponse, type TencentApi} from './tcr-api.js'
import {isAlreadyExists, TencentApiError} from './tcr-errors.js'
import {offsetPages, pageNumberPages} from './tcr-pages.js'
import {loginExpiry, type InstanceLogin} from './tcr-token.js'
import type {DestinationProvider, ProviderContext} from './provider.js'
import {loginSource, TemporaryLoginCache} from './temporary-login.js'

type Instance = NonNullable<TcrResponse<'DescribeInstances'>['Registries']>[number]

/**
 * Tencent TCR, the enterprise edition, as a destination: one instance found by name, pushed to
 * at its public domain with temporary logins (CreateInstanceToken) refreshed before they
 * expire. TCR creates a repository on its first push but not its namespace, so each namespace
 * is made to exist, once per run, before the first push into it.
 */
export async function tcrDestination(context: ProviderContext): Promise<DestinationProvider> {
  const region = regionOf(context)
  const name = context.settings.instance?.trim()
  if (!name) throw new ConfigError("tcr: name the TCR instance to push to with --toInstance (image-transfer's --tcrName)")
  const api = await createTencentApi({side: 'tcr', region, keys: apiKeys(context, 'tcr'), env: context.env, limiter: context.limiter})
  const instance = await findInstance(api, name)
  const registryId = instance.RegistryId!
  const domain = instance.PublicDomain?.trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/+$/, '')
  if (!domain) throw new ConfigError(`tcr: instance ${name} (${registryId}) in region ${region} has no public domain; is it still being created?`)
  const registry = parseRegistryHost(domain)

  const login = new TemporaryLoginCache(async (): Promise<InstanceLogin> => {
    const issuedAt = Date.now()
    const answer = await api.call('CreateInstanceToken', {RegistryId: registryId, TokenType: 'temp'})
    if (!answer.Username || !answer.Token) throw new ConfigError(`tcr: CreateInstanceToken for instance ${name} returned no username or token`)
    return {username: answer.Username, password: answer.Token, issuedAt, expiresAt: loginExpiry(answer.ExpTime, issuedAt)}
  })
  const namespaces = new Map<string, Promise<void>>()

  return {
    name: 'tcr',
    registry,
    prepare(repository, signal) {
      const namespace = namespaceOf(repository)
      let ready = namespaces.get(namespace)
      if (!ready) {
        ready = ensureNamespace(api, registryId, namespace, signal)
        namespaces.set(namespace, ready)
        // A failure is not remembered: the job's retry asks again.
        ready.catch(() => namespaces.delete(namespace))
      }
      return ready
    },
    access: () => ({credentials: loginSource(login)}),
  }
}

/** TCR repositories are always `namespace/name…`; the namespace is the first component. */
export function namespaceOf(repository: string): string {
  const slash = repository.indexOf('/')
  if (slash <= 0) {
    throw new ConfigError(`tcr: repository ${repository} has no namespace, and TCR needs namespace/name; put it under one with --toNamespace`)
  }
  return repository.slice(0, slash)
}

/** By name (the filter may match loosely, so the name is compared here); an instance id works too. */
async function findInstance(api: TencentApi, name: string): Promise<Instance> {
  const byName = offsetPages(
    async (offset, limit) => {
      const answer = await api.call('DescribeInstances', {Offset: offset, Limit: limit, Filters: [{Name: 'RegistryName', Values: [name]}]})
      const items = answer.Registries ?? []
      return {items, total: answer.TotalCount ?? items.length}
    },
    PAGE_SIZE,
    `tcr: DescribeInstances in region ${api.region}`,
  )
  for await (const page of byName) {
    const found = page.find((instance) => instance.RegistryName === name && instance.RegistryId)
    if (found) return found
  }
  if (/^tcr-[a-z0-9]+$/.test(name)) {
    const answer = await api.call('DescribeInstances', {Registryids: [name], Offset: 0, Limit: 1})
    const found = answer.Registries?.find((instance) => instance.RegistryId === name)
    if (found) return found
  }
  throw new ConfigError(`tcr: no TCR instance named ${name} in region ${api.region}`)
}

async function namespaceExists(api: TencentApi, registryId: string, namespace: string, signal?: AbortSignal): Promise<boolean> {
  const pages = pageNumberPages(
    async (page, limit) => {
      const answer = await api.call('DescribeNamespaces', {RegistryId: registryId, NamespaceName: namespace, Offset: page, Limit: limit}, signal)
      const items = answer.NamespaceList ?? []
      return {items, total: answer.TotalCount ?? items.length}
    },
    PAGE_SIZE,
    (info) => info.Name ?? '',
    `tcr: DescribeNamespaces of instance ${registryId}`,
  )
  for await (const page of pages) if (page.some((info) => info.Name === namespace)) return true
  return false
}

/**
 * Describe first, so a key that may read but not create still works where the namespaces exist;
 * create when missing. Another run (or person) may create it in between: "already exists" is
 * success, and so is any refusal after which the namespace turns out to be there.
 */
async function ensureNamespace(api: TencentApi, registryId: string, namespace: string, signal?: AbortSignal): Promise<void> {
  if (await namespaceExists(api, registryId, namespace, signal)) return
  try {
    await api.call('CreateNamespace', {RegistryId: registryId, NamespaceName: namespace, IsPublic: false}, signal)
  } catch (error) {
    if (isAlreadyExists(error)) return
    if (error instanceof TencentApiError && !error.retryable && (await namespaceExists(api, registryId, namespace, signal).catch(() => false))) return
    throw error
  }
}
