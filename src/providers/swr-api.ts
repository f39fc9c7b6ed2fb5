import {createRequire} from 'node:module'

import type * as SwrSdk from '@huaweicloud/huaweicloud-sdk-swr'

import {ConfigError, FerryError} from '../errors.js'
import type {RequestLimiter} from '../registry/limiter.js'
import {gatedCall} from './api-gate.js'
import {readSwrFailure, swrError, swrRetryable, type SwrSide} from './swr-errors.js'
import {apiRepositoryName} from './swr-names.js'

export const ENDPOINT_ENV = 'FERRY_ENDPOINT_SWR'
/** The listings' page size; SWR allows up to 1000, a smaller page keeps each answer small. */
export const PAGE_SIZE = 100
/** The SDK sets no timeout of its own: a silent endpoint would hold the run for ever. */
const TIMEOUT_MS = 30_000

/**
 * Pure: where the management API lives. FERRY_ENDPOINT_SWR (a URL, its scheme honoured; a bare
 * host means https) wins over `https://swr-api.<region>.myhuaweicloud.com`. Only an origin: the
 * signature covers the path, and a prefix there would be signed as part of each call's path.
 */
export function swrEndpoint(region: string, env: NodeJS.ProcessEnv): string {
  const override = env[ENDPOINT_ENV]?.trim()
  if (!override) return `https://swr-api.${region}.myhuaweicloud.com`
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(override) ? override : `https://${override}`)
  } catch {
    throw new ConfigError(`${ENDPOINT_ENV} is not a URL: ${JSON.stringify(override)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${ENDPOINT_ENV} must be http:// or https://, found ${url.protocol}`)
  if (url.pathname !== '/' || url.search || url.username || url.password) {
    throw new ConfigError(`${ENDPOINT_ENV} must be a scheme and host only (no path, query or user)`)
  }
  return url.origin
}

export interface SwrKeys {
  ak: string
  sk: string
  projectId?: string
}

export interface SwrApiOptions extends SwrSide {
  endpoint: string
  keys: SwrKeys
  limiter: RequestLimiter
  /** Attempts in all for a throttled or transient failure; the SDK itself never retries. */
  attempts?: number
  retryBaseMs?: number
}

/** What SWR says of a namespace, a repository and a tag, as far as ferry reads it (the JSON's own names). */
export interface SwrNamespace {
  name?: string
}
export interface SwrRepository {
  name?: string
  namespace?: string
  num_images?: number
}
export interface SwrTag {
  Tag?: string
  tag?: string
  updated?: string
  created?: string
}

/** One page of a listing: the items and SWR's total from Content-Range (`0-99/250`). */
export interface SwrPage<T> {
  items: T[]
  total: number
}

type Sdk = typeof SwrSdk
interface Credentials {
  withAk(ak: string): Credentials
  withSk(sk: string): Credentials
  withProjectId(id: string): Credentials
}

let loaded: {sdk: Sdk; BasicCredentials: new () => Credentials} | undefined

/**
 * Loads the SDK on first use (a run without an swr side never pays for it) and silences its
 * log4js: left alone it prints every failed request to stdout, in colour, with the whole request
 * config and so the Authorization header. `configure` reaches the SDK's own log4js copy.
 */
function loadSdk(): NonNullable<typeof loaded> {
  if (loaded) return loaded
  const require = createRequire(import.meta.url)
  const sdkPath = require.resolve('@huaweicloud/huaweicloud-sdk-swr')
  const fromSdk = createRequire(sdkPath)
  const corePath = fromSdk.resolve('@huaweicloud/huaweicloud-sdk-core')
  const fromCore = createRequire(corePath)
  const sdk = require('@huaweicloud/huaweicloud-sdk-swr') as Sdk
  const core = fromSdk('@huaweicloud/huaweicloud-sdk-core') as {BasicCredentials: new () => Credentials}
  ;(fromCore('log4js') as {configure(config: object): void}).configure({
    appenders: {off: {type: 'stderr'}},
    categories: {default: {appenders: ['off'], level: 'off'}},
  })
  loaded = {sdk, BasicCredentials: core.BasicCredentials}
  return loaded
}

/**
 * The SWR management API behind one gate: every call passes the run's limiter, a throttled
 * (APIG.0308) or transient failure is retried with backoff, any other failure becomes ferry's
 * one-line error built from SWR's code and request id.
 */
export class SwrApi {
  private constructor(
    private readonly client: SwrSdk.SwrClient,
    private readonly sdk: Sdk,
    private readonly options: SwrApiOptions,
  ) {}

  static open(options: SwrApiOptions): SwrApi {
    const {sdk, BasicCredentials} = loadSdk()
    let credentials = new BasicCredentials().withAk(options.keys.ak).withSk(options.keys.sk)
    if (options.keys.projectId) credentials = credentials.withProjectId(options.keys.projectId)
    // No withRegion: with a region and no project id the SDK asks IAM for one, elsewhere.
    const client = sdk.SwrClient.newBuilder()
      .withCredential(credentials as unknown as Parameters<ReturnType<typeof sdk.SwrClient.newBuilder>['withCredential']>[0])
      .withEndpoint(options.endpoint)
      .withOptions({axiosRequestConfig: {timeout: TIMEOUT_MS}})
      .build()
    return new SwrApi(client, sdk, options)
  }

  async namespaces(signal?: AbortSignal): Promise<SwrNamespace[]> {
    const answer = await this.send('ListNamespaces', signal, () => this.client.listNamespaces(new this.sdk.ListNamespacesRequest()))
    const list = (answer as {namespaces?: unknown}).namespaces
    if (!Array.isArray(list)) throw badAnswer('ListNamespaces', 'a namespaces list')
    return list as SwrNamespace[]
  }

  async repositories(namespace: string, offset: number, limit: number, signal?: AbortSignal): Promise<SwrPage<SwrRepository>> {
    const request = new this.sdk.ListReposDetailsRequest().withNamespace(namespace).withOffset(String(offset)).withLimit(String(limit))
    return page('ListReposDetails', await this.send('ListReposDetails', signal, () => this.client.listReposDetails(request)))
  }

  async tags(namespace: string, repository: string, offset: number, limit: number, signal?: AbortSignal): Promise<SwrPage<SwrTag>> {
    const request = new this.sdk.ListRepositoryTagsRequest()
      .withNamespace(namespace)
      .withRepository(apiRepositoryName(repository))
      .withOffset(String(offset))
      .withLimit(String(limit))
    return page('ListRepositoryTags', await this.send('ListRepositoryTags', signal, () => this.client.listRepositoryTags(request)))
  }

  async createNamespace(namespace: string, signal?: AbortSignal): Promise<void> {
    const body = new this.sdk.CreateNamespaceRequestBody().withNamespace(namespace)
    await this.send('CreateNamespace', signal, () => this.client.createNamespace(new this.sdk.CreateNamespaceRequest().withBody(body)))
  }

  private send(action: string, signal: AbortSignal | undefined, call: () => Promise<unknown>): Promise<unknown> {
    return gatedCall(call, {
      limiter: this.options.limiter,
      attempts: this.options.attempts ?? 5,
      retryBaseMs: this.options.retryBaseMs ?? 500,
      retryable: (error) => !FerryError.is(error) && swrRetryable(readSwrFailure(error)),
      // Not chained as a cause: the SDK's exception may hold the request's headers.
      fail: (error) => (FerryError.is(error) ? error : swrError(action, readSwrFailure(error), this.options)),
      signal,
    })
  }
}

/**
 * The SDK hands a listing back as the bare JSON array with the Content-Range header copied onto
 * it (its types promise `.body` and `.contentRange`, which stay undefined).
 */
function page<T>(action: string, answer: unknown): SwrPage<T> {
  if (!Array.isArray(answer)) throw badAnswer(action, 'a JSON array')
  const range = (answer as unknown as Record<string, unknown>)['Content-Range']
  const total = typeof range === 'string' ? /\/(\d+)\s*$/.exec(range)?.[1] : undefined
  // No total: read on until an empty page (a server repeating a page is stopped by the page guard).
  return {items: [...answer] as T[], total: total === undefined ? Number.POSITIVE_INFINITY : Number(total)}
}

export function badAnswer(action: string, what: string): FerryError {
  return new FerryError('BAD_ANSWER', `swr: ${action} answered without ${what}`)
}
