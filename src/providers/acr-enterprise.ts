import {ConfigError} from '../errors.js'
import type {AcrTransport} from './acr-api.js'
import {badAnswer} from './acr-api.js'
import {hostOf, paged, records, toNumber, toText, type AcrEdition, type AcrRepository} from './acr-edition.js'
import {isAlreadyExists} from './acr-errors.js'
import type {TemporaryLogin} from './acr-token.js'

/**
 * Pure: the registry host in a GetInstanceEndpoint answer for the internet endpoint. The
 * instance's own (SYSTEM) domain first: a custom (USER) domain may sit behind a proxy or
 * certificate ferry knows nothing about.
 */
export function pickInstanceDomain(answer: Record<string, unknown>): {host: string} | {problem: string} {
  if (answer.Enable === false) return {problem: 'its internet endpoint is disabled'}
  const domains = records(answer.Domains)
    .map((entry) => ({domain: hostOf(toText(entry.Domain)), type: toText(entry.Type).toUpperCase()}))
    .filter((entry) => entry.domain !== '')
  const chosen = domains.find((entry) => entry.type === 'SYSTEM') ?? domains[0]
  return chosen ? {host: chosen.domain} : {problem: 'its internet endpoint lists no domain'}
}

/** An enterprise instance through the RPC API (2018-12-01). */
export function enterpriseEdition(api: AcrTransport, instanceId: string, options: {pageSize?: number; side: 'source' | 'destination'}): AcrEdition {
  const pageSize = options.pageSize ?? 100
  const flag = options.side === 'source' ? 'from' : 'to'
  return {
    nestedNames: true,

    async registryHost(_namespace, signal) {
      const answer = await api.rpc('GetInstanceEndpoint', {InstanceId: instanceId, EndpointType: 'internet', ModuleName: 'Registry'}, {signal})
      const picked = pickInstanceDomain(answer)
      if ('problem' in picked) {
        throw new ConfigError(
          `acr: instance ${instanceId}: ${picked.problem}; enable it in the console, or name a domain ferry can reach (a VPC one) with --${flag}Registry`,
        )
      }
      return picked.host
    },

    namespaces(signal) {
      return paged(
        async (page) => {
          const answer = await api.rpc('ListNamespace', {InstanceId: instanceId, PageNo: page, PageSize: pageSize}, {signal})
          const items = records(answer.Namespaces)
            .map((entry) => toText(entry.NamespaceName))
            .filter(Boolean)
          return {items, total: toNumber(answer.TotalCount), pageSize: toNumber(answer.PageSize) || undefined}
        },
        pageSize,
        signal,
        `acr: ListNamespace`,
      )
    },

    repositories(namespace, signal) {
      return paged(
        async (page) => {
          const answer = await api.rpc(
            'ListRepository',
            {InstanceId: instanceId, RepoStatus: 'ALL', RepoNamespaceName: namespace, PageNo: page, PageSize: pageSize},
            {signal},
          )
          const items: AcrRepository[] = records(answer.Repositories).map((entry) => ({
            namespace: toText(entry.RepoNamespaceName) || namespace,
            name: toText(entry.RepoName),
            id: toText(entry.RepoId),
            status: toText(entry.RepoStatus) || undefined,
          }))
          return {items: items.filter((item) => item.name !== ''), total: toNumber(answer.TotalCount), pageSize: toNumber(answer.PageSize) || undefined}
        },
        pageSize,
        signal,
        `acr: ListRepository of namespace ${namespace}`,
      )
    },

    tags(repository, signal) {
      const repoId = repository.id
      if (!repoId) throw badAnswer('ListRepository', `a RepoId for ${repository.namespace}/${repository.name}`)
      return paged(
        async (page) => {
          const answer = await api.rpc('ListRepoTag', {InstanceId: instanceId, RepoId: repoId, PageNo: page, PageSize: pageSize}, {signal})
          const items = records(answer.Images)
            .map((entry) => toText(entry.Tag))
            .filter(Boolean)
          return {items, total: toNumber(answer.TotalCount), pageSize: toNumber(answer.PageSize) || undefined}
        },
        pageSize,
        signal,
        `acr: ListRepoTag of ${repository.namespace}/${repository.name}`,
      )
    },

    async createNamespace(namespace, signal) {
      try {
        // Pushes still need ferry's CreateRepository (the repository type stays PRIVATE), but a
        // namespace that creates repositories on push also serves people pushing by hand.
        await api.rpc(
          'CreateNamespace',
          {InstanceId: instanceId, NamespaceName: namespace, AutoCreateRepo: true, DefaultRepoType: 'PRIVATE'},
          {write: true, signal},
        )
      } catch (error) {
        if (!isAlreadyExists(error)) throw error
      }
    },

    async createRepository(namespace, name, signal) {
      try {
        await api.rpc(
          'CreateRepository',
          {InstanceId: instanceId, RepoNamespaceName: namespace, RepoName: name, RepoType: 'PRIVATE', Summary: 'created by ferry'},
          {write: true, signal},
        )
      } catch (error) {
        if (!isAlreadyExists(error)) throw error
      }
    },

    async login(signal): Promise<TemporaryLogin> {
      const answer = await api.rpc('GetAuthorizationToken', {InstanceId: instanceId}, {signal})
      const username = toText(answer.TempUsername)
      const password = toText(answer.AuthorizationToken)
      if (!username || !password) throw badAnswer('GetAuthorizationToken', 'TempUsername and AuthorizationToken')
      return {username, password, expiresAt: toNumber(answer.ExpireTime)}
    },
  }
}
