import {RegistryClient, type RegistryAccess, type RegistryObserver} from '../registry/client.js'
import type {RegistryRunState} from '../registry/layers/registry-state.js'
import type {RequestLimiter} from '../registry/limiter.js'
import {registryEndpoint} from '../reference.js'

/** Which credentials apply to a repository; `key` names the matching entry (one client per entry). */
export type AccessLookup = (registry: string, repository: string) => {key: string; access: RegistryAccess}

export interface PooledClient {
  client: RegistryClient
  /** Repositories sharing this key share credentials, so a blob can be mounted between them. */
  key: string
}

/**
 * One client per (registry, credential entry): security.yaml can give different credentials to
 * two namespaces of one registry, and their tokens and mounts must not mix.
 */
export class ClientPool {
  private readonly clients = new Map<string, RegistryClient>()

  constructor(
    private readonly lookup: AccessLookup,
    private readonly options: {
      limiter: RequestLimiter
      idleTimeoutMs?: number
      requestRetries?: number
      userAgent?: string
      onSecret?: (secret: string) => void
      observer?: RegistryObserver
      /** One per run: every client of a registry sees its stops and its pull quota. */
      state?: RegistryRunState
    },
  ) {}

  get(registry: string, repository: string): PooledClient {
    const {key: entry, access} = this.lookup(registry, repository)
    const key = `${registry}\u0000${entry}`
    let client = this.clients.get(key)
    if (!client) {
      client = new RegistryClient({
        registry,
        endpoint: registryEndpoint(registry),
        access,
        limiter: this.options.limiter,
        idleTimeoutMs: this.options.idleTimeoutMs,
        requestRetries: this.options.requestRetries,
        userAgent: this.options.userAgent,
        onSecret: this.options.onSecret,
        observer: this.options.observer,
        state: this.options.state,
      })
      this.clients.set(key, client)
    }
    return {client, key}
  }
}
