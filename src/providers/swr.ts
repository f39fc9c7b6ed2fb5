import {ConfigError} from '../errors.js'
import {normalizeRegistry, parseRegistryHost} from '../reference.js'
import type {CredentialSource} from '../registry/auth.js'
import type {DestinationProvider, ProviderContext, ProviderModule, SourceProvider} from './provider.js'
import {SwrApi, swrEndpoint, type SwrKeys} from './swr-api.js'
import {SwrPreparer} from './swr-prepare.js'
import {swrOrganizations, swrRepositories} from './swr-source.js'
import {swrLogin, swrRegionOf, swrRegistryHost} from './swr-names.js'
import {parseTagLimit} from './tcr-tags.js'

type Side = 'source' | 'destination'

export interface SwrSettings {
  region: string
  /** Registry host[:port] images are pulled from or pushed to. */
  registry: string
  /** The management API's origin. */
  endpoint: string
  keys: SwrKeys
  namespace?: string
  /** Newest N tags of each repository by update time; 0 = all. */
  tagLimit: number
}

/**
 * Pure: one side's settings, or the one-line error naming what to fix. Keys come from the secret
 * file's `swr:` entry (ak, sk, projectId, region), else from the SDK's own environment variables
 * (HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_PROJECT_ID). The region is the flag's,
 * else the entry's, else the one an `swr.<region>.myhuaweicloud.com` registry host names.
 */
export function swrSettings(context: Pick<ProviderContext, 'settings' | 'secrets' | 'env'>, side: Side): SwrSettings {
  const flag = side === 'source' ? 'from' : 'to'
  const keys = swrKeys(context)
  const registryText = context.settings.registry
    ?.trim()
    .replace(/^https?:\/\//, '')
    .replace(/\/+$/, '')
  const named = registryText ? normalizeRegistry(parseRegistryHost(registryText)) : undefined
  const region = context.settings.region?.trim() || keys.region || (named ? swrRegionOf(named) : undefined)
  if (!region) throw new ConfigError(`swr needs the ${side} region (--${flag}Region, or "region" under "swr" in the secret file), e.g. cn-north-4`)
  if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(region)) throw new ConfigError(`swr: region ${JSON.stringify(region)} is not a region id such as cn-north-4`)
  const namespace = context.settings.namespace?.trim().replace(/^\/+|\/+$/g, '') || undefined
  if (side === 'source' && namespace?.includes('/')) throw new ConfigError(`swr organizations have one level: --fromNamespace ${JSON.stringify(namespace)}`)
  const tagNums = context.settings.tagNums
  return {
    region,
    registry: named ?? swrRegistryHost(region),
    endpoint: swrEndpoint(region, context.env),
    keys: {ak: keys.ak, sk: keys.sk, ...(keys.projectId ? {projectId: keys.projectId} : {})},
    namespace,
    tagLimit: tagNums === undefined || tagNums.trim() === '' ? 0 : parseTagLimit(tagNums),
  }
}

/** The AK/SK pair (and what else the entry says), or the one line naming where to put it. */
export function swrKeys(context: Pick<ProviderContext, 'secrets' | 'env'>): SwrKeys & {region?: string} {
  const entry = context.secrets.swr
  const ak = entry?.secretId || context.env.HUAWEICLOUD_SDK_AK?.trim()
  const sk = entry?.secretKey || context.env.HUAWEICLOUD_SDK_SK?.trim()
  if (!ak || !sk) {
    throw new ConfigError(
      'swr needs API keys: add "swr: {ak: …, sk: …, region: …, projectId: …}" to the secret file given with --secretFile, or set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK',
    )
  }
  const projectId = entry?.projectId || context.env.HUAWEICLOUD_SDK_PROJECT_ID?.trim() || undefined
  return {ak, sk, ...(projectId ? {projectId} : {}), ...(entry?.region ? {region: entry.region} : {})}
}

/**
 * The registry login: SWR's long-term login, derived from the key. Handed out through a
 * credential source so the registry client learns the password as a secret to blank.
 */
export function swrCredentials(settings: Pick<SwrSettings, 'region' | 'keys'>): CredentialSource {
  const login = swrLogin(settings.region, settings.keys.ak, settings.keys.sk)
  return async () => login
}

function openApi(settings: SwrSettings, context: ProviderContext, side: Side): SwrApi {
  return SwrApi.open({endpoint: settings.endpoint, keys: settings.keys, limiter: context.limiter, side})
}

/**
 * Huawei Cloud SWR (SoftWare Repository for Container): organizations, repositories and tags
 * through the management API as a source; organizations created before the first push and SWR's
 * naming rules checked as a destination. The registry login is SWR's long-term one, derived from
 * the AK/SK pair, so no password is written anywhere.
 */
export const swrProvider: ProviderModule = {
  name: 'swr',
  summary: 'Huawei Cloud SWR (organizations and repositories listed, organizations created; the registry login derived from the AK/SK)',

  async source(context: ProviderContext): Promise<SourceProvider> {
    const settings = swrSettings(context, 'source')
    const api = openApi(settings, context, 'source')
    const credentials = swrCredentials(settings)
    const organizations = await swrOrganizations(api, {namespace: settings.namespace, region: settings.region})
    return {
      name: 'swr',
      registry: settings.registry,
      repositories: (signal) => swrRepositories(api, organizations, {tagLimit: settings.tagLimit, region: settings.region}, signal),
      access: () => ({credentials}),
    }
  },

  async destination(context: ProviderContext): Promise<DestinationProvider> {
    const settings = swrSettings(context, 'destination')
    const preparer = new SwrPreparer(openApi(settings, context, 'destination'))
    const credentials = swrCredentials(settings)
    return {
      name: 'swr',
      registry: settings.registry,
      prepare: (repository, signal) => preparer.prepare(repository, signal),
      check: (repository) => preparer.check(repository),
      access: () => ({credentials}),
    }
  },
}
