import {ConfigError} from '../errors.js'
import type {ProviderModule} from './provider.js'

/**
 * Providers by name, loaded on first use: cloud SDKs are heavy (the Tencent one alone takes a
 * quarter second to load), and a run needs at most two of them. Adding a provider is one module
 * and one line here.
 */
const loaders: Record<string, () => Promise<ProviderModule>> = {
  registry: async () => (await import('./registry.js')).registryProvider,
  ccr: async () => (await import('./tcr.js')).ccrProvider,
  tcr: async () => (await import('./tcr.js')).tcrProvider,
  acr: async () => (await import('./acr.js')).acrProvider,
  ecr: async () => (await import('./ecr.js')).ecrProvider,
  harbor: async () => (await import('./harbor.js')).harborProvider,
  swr: async () => (await import('./swr.js')).swrProvider,
}

export const providerNames = (): string[] => Object.keys(loaders).sort()

export async function loadProvider(name: string): Promise<ProviderModule> {
  const load = loaders[name]
  if (!load) throw new ConfigError(`unknown provider ${JSON.stringify(name)}; ferry knows ${providerNames().join(', ')}`)
  return load()
}
