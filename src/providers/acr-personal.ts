import type {AcrTransport} from './acr-api.js'
import {badAnswer} from './acr-api.js'
import {hostOf, paged, records, toNumber, toText, type AcrEdition, type AcrRepository} from './acr-edition.js'
import {isAlreadyExists} from './acr-errors.js'
import type {TemporaryLogin} from './acr-token.js'

/** How many namespaces the registry-host lookup looks into before it settles for the default. */
const HOST_PROBE_NAMESPACES = 3

/** The answer's `data`, where every personal edition body sits. */
function data(answer: Record<string, unknown>): Record<string, unknown> {
  const inner = answer.data
  return typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>) : {}
}

const segment = (text: string) => encodeURIComponent(text)

/** The personal edition of one region through the ROA API (2016-06-07). */
export function personalEdition(api: AcrTransport, region: string, options: {pageSize?: number} = {}): AcrEdition {
  const pageSize = options.pageSize ?? 100

  const edition: AcrEdition = {
    nestedNames: false,

    /**
     * Every repository of a region lives on one host, which each repository's repoDomainList
     * names; the documented default stands in when the account holds no repository yet.
     */
    async registryHost(namespace, signal) {
      const fallback = `registry.${region}.aliyuncs.com`
      const domainIn = async (name: string): Promise<string | undefined> => {
        for await (const repositories of edition.repositories(name, signal)) return repositories.find((repository) => repository.domain)?.domain
        return undefined
      }
      const first = namespace ? await domainIn(namespace) : undefined
      if (first) return first
      let probed = 0
      for await (const page of edition.namespaces(signal)) {
        for (const name of page) {
          if (name === namespace) continue
          if (probed++ >= HOST_PROBE_NAMESPACES) return fallback
          const domain = await domainIn(name)
          if (domain) return domain
        }
      }
      return fallback
    },

    async *namespaces(signal) {
      const answer = await api.roa('GetNamespaceList', 'GET', '/namespace', {signal})
      const names = records(data(answer).namespaces)
        .map((entry) => toText(entry.namespace))
        .filter(Boolean)
      if (names.length > 0) yield names
    },

    repositories(namespace, signal) {
      return paged(
        async (page) => {
          const answer = await api.roa('GetRepoListByNamespace', 'GET', `/repos/${segment(namespace)}`, {query: {Page: page, PageSize: pageSize}, signal})
          const body = data(answer)
          const items: AcrRepository[] = records(body.repos).map((entry) => {
            const domains = entry.repoDomainList as Record<string, unknown> | undefined
            const domain = hostOf(toText(domains?.public))
            return {namespace: toText(entry.repoNamespace) || namespace, name: toText(entry.repoName), domain: domain || undefined}
          })
          return {items: items.filter((item) => item.name !== ''), total: toNumber(body.total), pageSize: toNumber(body.pageSize) || undefined}
        },
        pageSize,
        signal,
        `acr: GetRepoListByNamespace of namespace ${namespace}`,
      )
    },

    tags(repository, signal) {
      const path = `/repos/${segment(repository.namespace)}/${segment(repository.name)}/tags`
      return paged(
        async (page) => {
          const answer = await api.roa('GetRepoTags', 'GET', path, {query: {Page: page, PageSize: pageSize}, signal})
          const body = data(answer)
          const items = records(body.tags)
            .map((entry) => toText(entry.tag))
            .filter(Boolean)
          return {items, total: toNumber(body.total), pageSize: toNumber(body.pageSize) || undefined}
        },
        pageSize,
        signal,
        `acr: GetRepoTags of ${repository.namespace}/${repository.name}`,
      )
    },

    async createNamespace(namespace, signal) {
      try {
        await api.roa('CreateNamespace', 'PUT', '/namespace', {body: {Namespace: {Namespace: namespace}}, signal})
      } catch (error) {
        if (!isAlreadyExists(error)) throw error
      }
    },

    async createRepository(namespace, name, signal) {
      try {
        await api.roa('CreateRepo', 'PUT', '/repos', {
          body: {Repo: {RepoNamespace: namespace, RepoName: name, RepoType: 'PRIVATE', Summary: 'created by ferry', Detail: ''}},
          signal,
        })
      } catch (error) {
        if (!isAlreadyExists(error)) throw error
      }
    },

    async login(signal): Promise<TemporaryLogin> {
      const answer = await api.roa('GetAuthorizationToken', 'GET', '/tokens', {signal})
      const body = data(answer)
      const username = toText(body.tempUserName)
      const password = toText(body.authorizationToken)
      if (!username || !password) throw badAnswer('GetAuthorizationToken', 'tempUserName and authorizationToken')
      return {username, password, expiresAt: toNumber(body.expireDate)}
    },
  }
  return edition
}
