import {ConfigError, FerryError} from '../errors.js'

/**
 * What a Huawei Cloud API failure means for ferry. The SDK's exceptions keep the gateway's
 * `error_code`, the HTTP status and the request id (X-Request-Id); ferry's message is built from
 * those alone. The server's message text is left out: it is the server's to word, and a
 * signature failure may quote what was signed.
 */
export type SwrFailureKind = 'auth' | 'permission' | 'throttled' | 'transient' | 'exists' | 'missing' | 'other'

export interface SwrFailure {
  /** The API's error code, a socket error code, or HTTP_<status> when the body named none. */
  code: string
  status?: number
  requestId?: string
  /** No answer at all (refused, reset, timed out). */
  network?: boolean
}

export interface SwrSide {
  side: 'source' | 'destination'
}

/** API Gateway codes for a key it does not take: signature, unknown or disabled AK, clock skew. */
const AUTH = new Set(['APIGW.0301', 'APIGW.0101', 'APIGW.0303', 'APIGW.0305', 'APIGW.0306', 'APIG.0301', 'APIG.0101'])

/** Pure: the code and status decide, never the message. */
export function classifySwrFailure(failure: SwrFailure): SwrFailureKind {
  const {code, status} = failure
  if (AUTH.has(code) || status === 401) return 'auth'
  if (code === 'APIG.0308' || code === 'APIGW.0308' || status === 429) return 'throttled'
  if (failure.network || (status !== undefined && status >= 500)) return 'transient'
  if (status === 403 || code === 'APIGW.0302' || code === 'APIG.0302') return 'permission'
  if (status === 409) return 'exists'
  if (status === 404) return 'missing'
  return 'other'
}

export function swrRetryable(failure: SwrFailure): boolean {
  const kind = classifySwrFailure(failure)
  return kind === 'throttled' || kind === 'transient'
}

/** Reads what the SDK threw: Client/Server/ServiceResponseException, or anything else. */
export function readSwrFailure(error: unknown): SwrFailure {
  if (typeof error !== 'object' || error === null) return {code: 'UNKNOWN'}
  const e = error as {httpStatusCode?: unknown; errorCode?: unknown; errorMsg?: unknown; requestId?: unknown; code?: unknown}
  const status = typeof e.httpStatusCode === 'number' ? e.httpStatusCode : undefined
  const requestId = typeof e.requestId === 'string' && e.requestId !== '' ? e.requestId : undefined
  const code = typeof e.errorCode === 'string' && e.errorCode !== '' ? e.errorCode : undefined
  if (code) return {code, status, requestId}
  if (status !== undefined) return {code: `HTTP_${status}`, status, requestId}
  // No status: the request got no answer. The SDK keeps only axios' message ("connect ECONNREFUSED …").
  const text = `${typeof e.code === 'string' ? e.code : ''} ${typeof e.errorMsg === 'string' ? e.errorMsg : ''}`
  const socket = /\b(E[A-Z]{3,})\b/.exec(text)?.[1] ?? (/timeout/i.test(text) ? 'ETIMEDOUT' : /socket hang up/i.test(text) ? 'ECONNRESET' : undefined)
  return socket ? {code: socket, network: true} : {code: 'UNKNOWN'}
}

/** A failure of an SWR API call, with the HTTP status it came with (a legacy body loses its code, not its status). */
export class SwrApiError extends FerryError {
  readonly status?: number

  constructor(failure: SwrFailure, message: string, retryable = false) {
    super(failure.code, message, {retryable})
    this.name = 'SwrApiError'
    this.status = failure.status
  }
}

/** Whether ferry's error (from swrError) says the thing to create is already there. */
export function isAlreadyExists(error: unknown): boolean {
  return error instanceof SwrApiError && classifySwrFailure({code: error.code, status: error.status}) === 'exists'
}

/** The IAM action each API call needs, for the message that names a missing permission. */
const IAM_ACTIONS: Record<string, string> = {
  ListNamespaces: 'swr:namespace:listNamespaces',
  CreateNamespace: 'swr:namespace:createNamespace',
  ListReposDetails: 'swr:repo:listRepos',
  ListRepositoryTags: 'swr:repo:listRepoTags',
}

/** The one line a person reads: the call, SWR's code, the request id, what to do. Pure. */
export function swrError(action: string, failure: SwrFailure, where: SwrSide): FerryError {
  const flag = where.side === 'source' ? 'from' : 'to'
  const request = failure.requestId ? ` (request ${failure.requestId})` : ''
  const head = `swr: ${action} failed with ${failure.code}${request}`
  switch (classifySwrFailure(failure)) {
    case 'auth':
      return new ConfigError(
        `${head}: check ak/sk under "swr" in the secret file (--secretFile) or HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK, and that the key is enabled`,
        {code: 'AUTH_FAILED'},
      )
    case 'permission':
      return new ConfigError(
        `${head}: the key's IAM user may not call ${IAM_ACTIONS[action] ?? `swr:${action}`}; grant it (see docs/providers/swr.md), and check the project id`,
        {code: 'AUTH_FAILED'},
      )
    case 'throttled':
      return new SwrApiError(failure, `${head}: still throttled after retries; lower --qps or try again later`, true)
    case 'transient':
      return new SwrApiError(failure, `${head}${failure.network ? ' (no answer from the API endpoint)' : ''}: try again later`, true)
    case 'missing':
      return new SwrApiError(failure, `${head}: not found; check the region (--${flag}Region) and the organization`)
    default:
      return new SwrApiError(failure, head)
  }
}
