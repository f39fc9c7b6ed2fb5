import type {DestinationProvider, ProviderContext, ProviderModule, SourceProvider} from './provider.js'

/*
 * Tencent Cloud's two registries, one API (tcr 2019-09-24) and one SDK: CCR (the personal
 * edition) as a source and TCR (the enterprise edition) as a destination, image-transfer's
 * ccrToTcr migration. The modules below load the SDK only when a run uses them.
 */

export const ccrProvider: ProviderModule = {
  name: 'ccr',
  summary: 'Tencent CCR personal edition (source): every repository of the account in a region, newest tags first',
  async source(context: ProviderContext): Promise<SourceProvider> {
    return (await import('./tcr-source.js')).ccrSource(context)
  },
}

export const tcrProvider: ProviderModule = {
  name: 'tcr',
  summary: 'Tencent TCR enterprise edition (destination): an instance by name, namespaces created, temporary logins',
  async destination(context: ProviderContext): Promise<DestinationProvider> {
    return (await import('./tcr-destination.js')).tcrDestination(context)
  },
}
