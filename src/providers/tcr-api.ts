import http from 'node:http'
import https from 'node:https'

import type {Client} from 'tencentcloud-sdk-nodejs/tencentcloud/services/tcr/v20190924/tcr_client.js'

import {abortError, ConfigError} from '../errors.js'
import type {RequestLimiter} from '../registry/limiter.js'
import {withRetry} from '../retry.js'
import {apiError, MAX_RETRIES, tcrRetryable, type TencentSide} from './tcr-errors.js'
import type {ProviderContext} from './provider.js'

/** Both editions are one API (tcr 2019-09-24); image-transfer's default region for both. */
export const DEFAULT_REGION = 'ap-guangzhou'
export const ENDPOINT_ENV = 'FERRY_ENDPOINT_TCR'
const DEFAULT_ENDPOINT = 'tcr.tencentcloudapi.com'
/** The API's largest page (Limit ≤ 100 on every listing action ferry calls). */
export const PAGE_SIZE = 100

export interface ApiEndpoint {
  /** host[:port] only: the SDK builds the URL as protocol + endpoint + '/'. */
  endpoint: string
  protocol: 'http://' | 'https://'
  /** A local endpoint (tests, a port-forward) never goes through http_proxy. */
  loopback: boolean
}

/** Where the API lives: Tencent's endpoint, or FERRY_ENDPOINT_TCR=http(s)://host[:port]. Pure. */
export function apiEndpoint(env: NodeJS.ProcessEnv): ApiEndpoint {
  const raw = env[ENDPOINT_ENV]?.trim()
  if (!raw) return {endpoint: DEFAULT_ENDPOINT, protocol: 'https://', loopback: false}
  const wrong = () =>
    new ConfigError(`${ENDPOINT_ENV} must be a URL like http://127.0.0.1:8080 (scheme, host, optional port, nothing else), not ${JSON.stringify(raw)}`)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw wrong()
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    url.pathname.replace(/\/+$/, '') !== ''
  ) {
    throw wrong()
  }
  const host = url.hostname.toLowerCase()
  const loopback = host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]'
  return {endpoint: url.host, protocol: url.protocol === 'http:' ? 'http://' : 'https://', loopback}
}

export interface ApiKeys {
  secretId: string
  secretKey: string
}

/** The side's keys from --secretFile (secrets.ts already lets ccr and tcr stand in for each other). */
export function apiKeys(context: Pick<ProviderContext, 'secrets'>, side: TencentSide): ApiKeys {
  const secret = context.secrets[side]
  if (!secret?.secretId || !secret.secretKey) {
    throw new ConfigError(`${side}: no Tencent Cloud API keys: pass --secretFile with a "${side}:" entry holding secretId and secretKey`)
  }
  return {secretId: secret.secretId, secretKey: secret.secretKey}
}

/** The actions ferry calls, so each call is typed by the SDK's own request and response models. */
export type TcrAction =
  | 'DescribeNamespacePersonal'
  | 'DescribeRepositoryOwnerPersonal'
  | 'DescribeImagePersonal'
  | 'DescribeInstances'
  | 'DescribeNamespaces'
  | 'CreateNamespace'
  | 'CreateInstanceToken'
export type TcrRequest<A extends TcrAction> = Parameters<Client[A]>[0]
export type TcrResponse<A extends TcrAction> = Awaited<ReturnType<Client[A]>>

export interface TencentApiOptions {
  side: TencentSide
  region: string
  keys: ApiKeys
  env: NodeJS.ProcessEnv
  limiter: RequestLimiter
}

const RETRY_BASE_MS = 500

/**
 * The tcr API for one side and region. The SDK sends exactly one request per call; ferry adds
 * the run's limiter to every attempt, and backoff on throttling and transient failures.
 */
export class TencentApi {
  readonly side: TencentSide
  readonly region: string
  private readonly where: string

  constructor(
    private readonly client: Client,
    private readonly options: TencentApiOptions & {endpoint: ApiEndpoint},
  ) {
    this.side = options.side
    this.region = options.region
    this.where = `${options.endpoint.protocol}${options.endpoint.endpoint}`
  }

  async call<A extends TcrAction>(action: A, request: TcrRequest<A>, signal?: AbortSignal): Promise<TcrResponse<A>> {
    const method = this.client[action] as unknown as (this: Client, request: TcrRequest<A>) => Promise<TcrResponse<A>>
    return withRetry(
      async (attempt): Promise<TcrResponse<A>> => {
        if (signal?.aborted) throw abortError()
        try {
          return await this.options.limiter.schedule(() => method.call(this.client, request))
        } catch (error) {
          throw apiError(this.side, action, error, {
            endpoint: this.where,
            secrets: [this.options.keys.secretKey, this.options.keys.secretId],
            attempts: attempt,
          })
        }
      },
      {
        // The most any failure gets; `retriesFor` gives each kind its own (retries after the first).
        retries: MAX_RETRIES,
        backoff: {baseMs: RETRY_BASE_MS},
        retryable: tcrRetryable,
        signal,
      },
    )
  }
}

/** Loads the SDK's tcr client only now: the whole SDK takes a quarter second to load. */
export async function createTencentApi(options: TencentApiOptions): Promise<TencentApi> {
  const endpoint = apiEndpoint(options.env)
  const {Client: TcrClient} = await import('tencentcloud-sdk-nodejs/tencentcloud/services/tcr/v20190924/tcr_client.js')
  const client = new TcrClient({
    credential: {secretId: options.keys.secretId, secretKey: options.keys.secretKey},
    region: options.region,
    profile: {
      language: 'en-US',
      httpProfile: {
        endpoint: endpoint.endpoint,
        protocol: endpoint.protocol,
        reqTimeout: 30,
        // Without an agent the SDK sends everything through $http_proxy, local endpoints included.
        ...(endpoint.loopback ? {agent: endpoint.protocol === 'http://' ? new http.Agent({keepAlive: true}) : new https.Agent({keepAlive: true})} : {}),
      },
    },
  })
  return new TencentApi(client, {...options, endpoint})
}

/** Region from the flag, image-transfer's default otherwise. */
export function regionOf(context: Pick<ProviderContext, 'settings'>): string {
  return context.settings.region?.trim() || DEFAULT_REGION
}
