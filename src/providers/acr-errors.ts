import {ConfigError, FerryError} from '../errors.js'

/**
 * What an Alibaba Cloud API failure means for ferry. pop-core's own messages are never used:
 * an RPC error's message ends with the whole signed URL (AccessKeyId, Signature), httpx's
 * network errors name the URL too, and a SignatureDoesNotMatch answer quotes the server's
 * string to sign. Only the error code, the HTTP status and the request id leave this module.
 */
export type AcrFailureKind = 'auth' | 'permission' | 'instance' | 'region' | 'throttled' | 'transient' | 'exists' | 'other'

export interface AcrFailure {
  /** The API's error code, a socket error code, or a name ferry gives a failure without one. */
  code: string
  requestId?: string
  status?: number
  /** No answer at all (refused, reset, timed out). */
  network?: boolean
}

/** Which flags the user fixes, so a message can name them. */
export interface AcrSide {
  side: 'source' | 'destination'
}

const AUTH = new Set([
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidAccessKeyId',
  'InvalidAccessKeyId.NotFound',
  'InvalidAccessKeyId.Inactive',
  'InvalidAccessKeySecret',
  'InvalidSecurityToken.Expired',
  'InvalidSecurityToken.Malformed',
  'SignatureNonceUsed',
  'InvalidTimeStamp.Expired',
])
const TRANSIENT = new Set(['ServiceUnavailable', 'InternalError', 'InternalServerError', 'SystemBusy', 'ServiceTimeout', 'BAD_ANSWER'])
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'RequestTimeout', 'RequestTimeoutError'])

/** Pure: the code decides, never the message. */
export function classifyAcrFailure(failure: AcrFailure): AcrFailureKind {
  const code = failure.code
  if (AUTH.has(code)) return 'auth'
  if (/^Throttling(\.|$)/.test(code) || code === 'TooManyRequests') return 'throttled'
  if (failure.network || TRANSIENT.has(code) || (failure.status !== undefined && failure.status >= 500 && !code)) return 'transient'
  if (/^Forbidden(\.|$)|^NoPermission|^Unauthorized|NOT_AUTHORIZED|^AccessDenied/i.test(code)) return 'permission'
  if (/ALREADY_EXIST|AlreadyExist/i.test(code)) return 'exists'
  if (/^INSTANCE_NOT_EXIST|^InvalidInstance|^Instance\.?NotFound|^INSTANCE_NOT_FOUND/i.test(code)) return 'instance'
  if (/^InvalidRegionId|^UnsupportedRegion/i.test(code)) return 'region'
  return 'other'
}

/** Worth another attempt: throttling and transient failures (5xx, the network); nothing else gets better by asking again. Pure. */
export function acrRetryable(failure: AcrFailure): boolean {
  const kind = classifyAcrFailure(failure)
  return kind === 'throttled' || kind === 'transient'
}

/**
 * Reads what pop-core threw: an RPC failure (`.code`, `.data` = the body), a ROA failure
 * (`.code`, `.statusCode`, `.result` = the body, whose code may be lowercase `code`), an httpx
 * network error (socket `.code`, `RequestTimeoutError`), or a body that was not JSON.
 */
export function readAcrFailure(error: unknown): AcrFailure {
  if (typeof error !== 'object' || error === null) return {code: 'UNKNOWN'}
  const e = error as {code?: unknown; name?: unknown; data?: unknown; result?: unknown; statusCode?: unknown}
  const body = (isRecord(e.data) ? e.data : isRecord(e.result) ? e.result : undefined) as Record<string, unknown> | undefined
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined
  if (body) {
    const code = text(body.Code) || text(e.code) || text(body.code) || text(body.errorCode)
    const requestId = text(body.RequestId) || text(body.requestId) || undefined
    return {code: code || (status ? `HTTP_${status}` : 'UNKNOWN'), requestId, status}
  }
  const code = text(e.code)
  const name = text(e.name)
  if (NETWORK.has(code) || NETWORK.has(name) || /^E[A-Z]+$/.test(code)) return {code: code || name, network: true}
  if (name === 'SyntaxError' || name === 'FormatError') return {code: 'BAD_ANSWER'}
  if (code) return {code, status}
  return {code: name && name !== 'Error' ? name : 'UNKNOWN'}
}

/** The one-line error a person reads: provider, action, code, what to do. Pure. */
export function acrError(action: string, failure: AcrFailure, where: AcrSide): FerryError {
  const flag = where.side === 'source' ? 'from' : 'to'
  const head = `acr: ${action} failed with ${failure.code}`
  const request = failure.requestId ? ` (request ${failure.requestId})` : ''
  switch (classifyAcrFailure(failure)) {
    case 'auth':
      return new ConfigError(`${head}: check secretId/secretKey under "acr" in the secret file (--secretFile)${request}`, {code: 'AUTH_FAILED'})
    case 'permission':
      return new ConfigError(
        `${head}: the key's RAM user may not call cr:${ramAction(action)}; grant it (see docs/providers/acr.md#ram-permissions)${request}`,
        {
          code: 'AUTH_FAILED',
        },
      )
    case 'instance':
      return new ConfigError(`${head}: check the instance id (--${flag}Instance) and that it lives in the region (--${flag}Region)${request}`)
    case 'region':
      return new ConfigError(`${head}: check the region (--${flag}Region)${request}`)
    case 'throttled':
      return new FerryError(failure.code, `${head}: still throttled after retries; lower --qps or try again later${request}`, {retryable: true})
    case 'transient':
      return new FerryError(failure.code, `${head}${failure.network ? ' (no answer from the API endpoint)' : ''}: try again later${request}`, {retryable: true})
    default:
      return new FerryError(failure.code, `${head}${request}`)
  }
}

/** Whether ferry's error (from acrError) says the thing to create is already there. */
export function isAlreadyExists(error: unknown): boolean {
  return FerryError.is(error) && classifyAcrFailure({code: error.code}) === 'exists'
}

/** RAM action names differ from API action names in a few places (the personal edition's most of all). */
const RAM_ACTIONS: Record<string, string> = {
  ListRepoTag: 'ListRepositoryTag',
  GetNamespaceList: 'ListNamespace',
  GetRepoListByNamespace: 'ListRepository',
  GetRepoTags: 'ListRepositoryTag',
  CreateRepo: 'CreateRepository',
}

function ramAction(action: string): string {
  return RAM_ACTIONS[action] ?? action
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : ''
}
