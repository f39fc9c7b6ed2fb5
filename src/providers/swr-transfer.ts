import type {CloudSecrets} from '../config/secrets.js'
import type {CredentialStore} from '../config/security.js'
import type {EngineOptions} from '../engine/run.js'
import {ConfigError} from '../errors.js'
import {normalizeRegistry, parseRegistryHost} from '../reference.js'
import type {RequestLimiter} from '../registry/limiter.js'
import type {Rule} from '../rule.js'
import {layeredCredentials} from './migrate.js'
import {swrCredentials, swrKeys, swrSettings} from './swr.js'
import {SwrApi} from './swr-api.js'
import {swrRegionOf} from './swr-names.js'
import {SwrPreparer} from './swr-prepare.js'

export interface SwrTransferOptions {
  secrets: CloudSecrets
  env: NodeJS.ProcessEnv
  limiter: RequestLimiter
  /** A destination host that is SWR though not named swr.<region>.myhuaweicloud.com (--swr-registry). */
  registry?: string
}

/** Whether SWR keys were given at all: in the secret file's `swr:` entry or the SDK's environment variables. */
export function hasSwrKeys(secrets: CloudSecrets, env: NodeJS.ProcessEnv): boolean {
  return Boolean((secrets.swr?.secretId && secrets.swr.secretKey) || (env.HUAWEICLOUD_SDK_AK?.trim() && env.HUAWEICLOUD_SDK_SK?.trim()))
}

/**
 * `transfer` into SWR with keys instead of a password (image-migrator's use): for each SWR
 * destination host the rules name (swr.<region>.myhuaweicloud.com, or the one given as SWR),
 * the registry login is derived from the keys, each organization is created before its first
 * push, and every destination the rules spell out is checked against SWR's naming rules before
 * anything is copied. Undefined when no rule goes to SWR or no keys were given.
 */
export function swrTransferOptions(
  inputs: {rules: readonly Rule[]; credentials: CredentialStore},
  options: SwrTransferOptions,
): Pick<EngineOptions, 'credentials' | 'prepareDestination'> | undefined {
  const named = options.registry ? normalizeRegistry(parseRegistryHost(options.registry.replace(/^https?:\/\//, '').replace(/\/+$/, ''))) : undefined
  if (!hasSwrKeys(options.secrets, options.env)) {
    if (named)
      throw new ConfigError(
        '--swr-registry needs SWR keys: an "swr: {ak, sk, region, projectId}" entry in --secretFile, or HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK',
      )
    return undefined
  }
  const isSwr = (host: string) => host === named || swrRegionOf(host) !== undefined
  const hosts = [...new Set(inputs.rules.map((rule) => normalizeRegistry(rule.destination.registry)).filter(isSwr))]
  if (hosts.length === 0) {
    if (named) throw new ConfigError(`--swr-registry ${named}: no rule copies to it`)
    return undefined
  }
  const context = {secrets: options.secrets, env: options.env}
  const sides = hosts.map((host) => {
    // The region is the host's own; a host given with --swr-registry takes the secret file's.
    const settings = swrSettings({...context, settings: {registry: host, region: swrRegionOf(host) ?? swrKeys(context).region}}, 'destination')
    const preparer = new SwrPreparer(SwrApi.open({endpoint: settings.endpoint, keys: settings.keys, limiter: options.limiter, side: 'destination'}))
    const credentials = swrCredentials(settings)
    return {registry: host, name: 'swr', preparer, access: () => ({credentials})}
  })

  // Before anything is copied: a destination SWR would refuse stops the run with one line.
  for (const rule of inputs.rules) {
    const side = sides.find((candidate) => candidate.registry === normalizeRegistry(rule.destination.registry))
    if (!side) continue
    // A pattern's destination is a prefix: its organization is checked now, each repository at its first push.
    const path = rule.source.pattern ? `${rule.destination.repository.split('/')[0]}/x` : rule.destination.repository
    const problem = side.preparer.check(path)
    if (problem) throw new ConfigError(`${problem} (rule ${rule.text})`, {file: rule.file, line: rule.line, code: 'INVALID_NAME'})
  }

  return {
    credentials: layeredCredentials(inputs.credentials, sides),
    prepareDestination: async (registry, repository, signal) => {
      const side = sides.find((candidate) => candidate.registry === registry)
      if (side) await side.preparer.prepare(repository, signal)
    },
  }
}
