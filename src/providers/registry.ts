import {ConfigError} from '../errors.js'
import {listRepositories} from '../registry/catalog.js'
import {RegistryClient} from '../registry/client.js'
import {underPrefix} from '../names.js'
import {normalizeRegistry, parseRegistryHost, registryEndpoint} from '../reference.js'
import type {DestinationProvider, ProviderContext, ProviderModule, SourceProvider} from './provider.js'

/**
 * Any Docker Registry v2: the whole registry through the catalog endpoint (paged with Link),
 * each repository's tags through the registry itself. Nothing to prepare at a destination: a
 * plain registry creates repositories on the first push.
 */
export const registryProvider: ProviderModule = {
  name: 'registry',
  summary: 'any Docker Registry v2 (catalog and tag listing); destination needs no preparation',

  async source(context: ProviderContext): Promise<SourceProvider> {
    const registry = registryHost(context, 'source')
    const namespace = context.settings.namespace?.replace(/\/+$/, '')
    const client = new RegistryClient({
      registry,
      endpoint: registryEndpoint(registry),
      // The catalog needs the registry-wide credentials: the entry for the bare host.
      access: context.credentials.lookup(registry, ''),
      limiter: context.limiter,
    })
    return {
      name: 'registry',
      registry,
      async *repositories(signal) {
        for await (const repository of listRepositories(client, {signal})) {
          if (typeof repository !== 'string') {
            // An entry that breaks the grammar is refused where it names the namespace as listed.
            if (underPrefix(repository, namespace ?? '')) yield repository
            continue
          }
          if (namespace && !(repository === namespace || repository.startsWith(`${namespace}/`))) continue
          yield {repository}
        }
      },
    }
  },

  async destination(context: ProviderContext): Promise<DestinationProvider> {
    return {name: 'registry', registry: registryHost(context, 'destination'), prepare: async () => undefined}
  },
}

function registryHost(context: ProviderContext, side: string): string {
  const value = context.settings.registry
  if (!value) throw new ConfigError(`the registry provider needs the ${side} registry host (--${side === 'source' ? 'from' : 'to'}Registry)`)
  return normalizeRegistry(parseRegistryHost(value.replace(/^https?:\/\//, '').replace(/\/+$/, '')))
}
