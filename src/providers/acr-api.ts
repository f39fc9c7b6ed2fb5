import {ConfigError, FerryError} from '../errors.js'
import type {RequestLimiter} from '../registry/limiter.js'
import {gatedCall} from './api-gate.js'
import {acrError, acrRetryable, readAcrFailure, type AcrSide} from './acr-errors.js'

/** The enterprise edition's RPC API and the personal edition's ROA API share one host per region. */
export const ENTERPRISE_API_VERSION = '2018-12-01'
export const PERSONAL_API_VERSION = '2016-06-07'

/**
 * Pure: where the API lives. FERRY_ENDPOINT_ACR (a URL, its scheme honoured; a bare host means
 * https) wins over `https://cr.<region>.aliyuncs.com`. Only an origin: the ROA signature covers
 * the path alone, so a path prefix on the endpoint could never be signed right.
 */
export function acrEndpoint(region: string, env: NodeJS.ProcessEnv): string {
  const override = env.FERRY_ENDPOINT_ACR?.trim()
  if (!override) return `https://cr.${region}.aliyuncs.com`
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(override) ? override : `https://${override}`)
  } catch {
    throw new ConfigError(`FERRY_ENDPOINT_ACR is not a URL: ${JSON.stringify(override)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`FERRY_ENDPOINT_ACR must be http:// or https://, found ${url.protocol}`)
  if (url.pathname !== '/' || url.search) throw new ConfigError('FERRY_ENDPOINT_ACR must be a scheme and host only (no path or query)')
  return url.origin
}

export interface AcrTransportOptions extends AcrSide {
  endpoint: string
  accessKeyId: string
  accessKeySecret: string
  limiter: RequestLimiter
  /** Attempts in all for a throttled or transient failure; pop-core itself never retries. */
  attempts?: number
  retryBaseMs?: number
}

type JsonBody = Record<string, unknown>

interface RpcClient {
  request<T>(action: string, params: object, options?: object): Promise<T>
}
interface RoaClient {
  request(method: string, path: string, query?: object, body?: string, headers?: object, options?: object): Promise<unknown>
}
type RoaConstructor = new (config: {endpoint: string; apiVersion: string; accessKeyId: string; accessKeySecret: string; opts?: object}) => RoaClient

/** pop-core's default timeout is 3 s; a loaded region answers slower than that. */
const TIMEOUT_MS = 10_000

/**
 * Both Alibaba API styles behind one gate: every call passes the run's limiter, a throttled or
 * transient failure is retried with backoff (each attempt passes the limiter again), and any
 * other failure becomes ferry's one-line error built from the code alone.
 */
export class AcrTransport {
  private constructor(
    private readonly rpcClient: RpcClient,
    private readonly roaClient: RoaClient,
    private readonly options: AcrTransportOptions,
  ) {}

  /** Loads pop-core on first use: a run that names no acr side never pays for it. */
  static async open(options: AcrTransportOptions): Promise<AcrTransport> {
    const popCore = (await import('@alicloud/pop-core')).default
    const credentials = {endpoint: options.endpoint, accessKeyId: options.accessKeyId, accessKeySecret: options.accessKeySecret}
    const rpc = new popCore({...credentials, apiVersion: ENTERPRISE_API_VERSION, opts: {timeout: TIMEOUT_MS}}) as unknown as RpcClient
    const Roa = (popCore as unknown as {ROAClient: RoaConstructor}).ROAClient
    const roa = new Roa({...credentials, apiVersion: PERSONAL_API_VERSION, opts: {timeout: TIMEOUT_MS}})
    return new AcrTransport(rpc, roa, options)
  }

  /** An enterprise edition action; reads go as GET, changes as a POST form. */
  rpc(action: string, params: Record<string, string | number | boolean>, options: {write?: boolean; signal?: AbortSignal} = {}): Promise<JsonBody> {
    return this.send(action, options.signal, async () => {
      const answer = await this.rpcClient.request<unknown>(action, params, options.write ? {method: 'POST'} : {})
      return expectJson(answer)
    })
  }

  /**
   * A personal edition call. `action` names it in messages (the 2016-06-07 action names).
   * pop-core returns a non-JSON answer as a string instead of failing: that is a failure here.
   */
  roa(
    action: string,
    method: 'GET' | 'PUT',
    path: string,
    options: {query?: Record<string, number | string>; body?: unknown; signal?: AbortSignal} = {},
  ): Promise<JsonBody> {
    return this.send(action, options.signal, async () => {
      const body = options.body === undefined ? '' : JSON.stringify(options.body)
      const headers = options.body === undefined ? {} : {'content-type': 'application/json'}
      const answer = await this.roaClient.request(method, path, options.query ?? {}, body, headers)
      return expectJson(answer)
    })
  }

  private send(action: string, signal: AbortSignal | undefined, call: () => Promise<JsonBody>): Promise<JsonBody> {
    return gatedCall(call, {
      limiter: this.options.limiter,
      attempts: this.options.attempts ?? 5,
      retryBaseMs: this.options.retryBaseMs ?? 500,
      retryable: (error) => acrRetryable(readAcrFailure(error)),
      // Not chained as a cause: the SDK's error holds the signed URL.
      fail: (error) => acrError(action, readAcrFailure(error), this.options),
      signal,
    })
  }
}

function expectJson(answer: unknown): JsonBody {
  if (typeof answer === 'object' && answer !== null && !Array.isArray(answer)) return answer as JsonBody
  // Thrown as a plain object so readAcrFailure classifies it like any other failure.
  throw Object.assign(new Error('not JSON'), {name: 'FormatError'})
}

/** ferry's error for an answer whose shape is wrong (a field missing), naming the action. */
export function badAnswer(action: string, what: string): FerryError {
  return new FerryError('BAD_ANSWER', `acr: ${action} answered without ${what}`)
}
