import {ConfigError} from '../errors.js'
import type {RegistryAccess} from '../registry/client.js'
import {EcrApi} from './ecr-api.js'
import type {DestinationProvider, ProviderContext, ProviderModule, SourceProvider} from './provider.js'
import {loginSource, TemporaryLoginCache} from './temporary-login.js'

/**
 * AWS ECR. The registry host is not configured but learned from GetAuthorizationToken's
 * proxyEndpoint, which also makes a bad key fail before anything is listed or copied. A source
 * lists DescribeRepositories page by page and each repository's tags with ListImages; a
 * destination creates each repository before its first push, since ECR refuses pushes to a
 * repository that does not exist. Registry logins last 12 hours and are fetched again before
 * they run out.
 */
export const ecrProvider: ProviderModule = {
  name: 'ecr',
  summary: 'AWS ECR (DescribeRepositories, ListImages); destination repositories are created with CreateRepository',

  async source(context: ProviderContext): Promise<SourceProvider> {
    const side = await connect(context, 'source')
    const namespace = context.settings.namespace?.replace(/^\/+|\/+$/g, '')
    return {
      name: 'ecr',
      registry: side.registry,
      async *repositories(signal) {
        for await (const page of side.api.repositoryPages(signal)) {
          for (const repository of page) {
            if (!underNamespace(repository, namespace)) continue
            const tags = await side.api.imageTags(repository, signal)
            if (tags) yield {repository, tags}
          }
        }
      },
      access: () => side.access,
    }
  },

  async destination(context: ProviderContext): Promise<DestinationProvider> {
    const side = await connect(context, 'destination')
    // One call per repository per run, shared by concurrent jobs; a failure is forgotten so a retry asks again.
    const prepared = new Map<string, Promise<void>>()
    return {
      name: 'ecr',
      registry: side.registry,
      prepare(repository, signal) {
        let pending = prepared.get(repository)
        if (!pending) {
          pending = side.api.createRepository(repository, signal).then(() => undefined)
          prepared.set(repository, pending)
          pending.catch(() => prepared.delete(repository))
        }
        return pending
      },
      access: () => side.access,
    }
  },
}

interface EcrSide {
  api: EcrApi
  registry: string
  access: RegistryAccess
}

async function connect(context: ProviderContext, side: 'source' | 'destination'): Promise<EcrSide> {
  const prefix = side === 'source' ? 'from' : 'to'
  const registryId = parseRegistryId(context.settings.instance, `--${prefix}Instance`)
  const api = await EcrApi.connect({
    region: context.settings.region || undefined,
    credentials: secretCredentials(context.secrets.ecr),
    registryId,
    limiter: context.limiter,
    regionFlag: `--${prefix}Region`,
  })
  const first = await api.authorize()
  const logins = new TemporaryLoginCache(() => api.authorize(), {initial: first})
  const access: RegistryAccess = {
    credentials: loginSource(logins),
    // Only a plain-HTTP proxyEndpoint (a local stand-in) says anything about TLS; otherwise the
    // security file's TLS settings for the host still apply.
    ...(first.insecure ? {insecure: true} : {}),
  }
  return {api, registry: first.registry, access}
}

/** --fromInstance/--toInstance: the 12-digit account id of another account's registry. Pure. */
export function parseRegistryId(value: string | undefined, flag: string): string | undefined {
  const trimmed = value?.trim()
  if (!trimmed) return undefined
  if (!/^\d{12}$/.test(trimmed)) {
    throw new ConfigError(`ecr: ${flag} is a registry id, the 12-digit AWS account id that owns the registry; got ${JSON.stringify(trimmed)}`)
  }
  return trimmed
}

/** The secret file's `ecr:` entry as SDK credentials; absent, the SDK's own chain decides. Pure. */
export function secretCredentials(secret: {secretId?: string; secretKey?: string} | undefined): {accessKeyId: string; secretAccessKey: string} | undefined {
  if (!secret || (!secret.secretId && !secret.secretKey)) return undefined
  if (!secret.secretId || !secret.secretKey) {
    throw new ConfigError(`ecr: the secret file's ecr entry needs both secretId (the access key id) and secretKey (the secret access key)`)
  }
  return {accessKeyId: secret.secretId, secretAccessKey: secret.secretKey}
}

/** `team` keeps `team/app` and `team/sub/app`, not `team` itself nor `teamwork/app`. Pure. */
export function underNamespace(repository: string, namespace: string | undefined): boolean {
  return !namespace || repository.startsWith(`${namespace}/`)
}
