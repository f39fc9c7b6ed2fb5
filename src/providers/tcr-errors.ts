import {FerryError} from '../errors.js'

/** Which product a call was made for: messages and flags differ, the API is the same. */
export type TencentSide = 'ccr' | 'tcr'

/** What the SDK's TencentCloudSDKHttpException (or anything else thrown) tells us. */
export interface SdkFailure {
  /** The API's Error.Code; absent for network failures and non-200 answers. */
  code?: string
  message: string
  requestId?: string
  /** Only on a non-200 HTTP status. */
  httpCode?: number
  /** False when the SDK did not throw its own exception (e.g. a body it could not read). */
  fromSdk: boolean
}

/** A failed Tencent Cloud API call. `code` is the API's own code, or NETWORK / HTTP_nnn / BAD_ANSWER. */
export class TencentApiError extends FerryError {
  readonly action: string
  readonly apiCode?: string
  readonly requestId?: string
  /** The server's own words, kept out of enumeration; shown only where no hint says more. */
  declare readonly serverMessage: string

  constructor(
    code: string,
    message: string,
    details: {action: string; apiCode?: string; requestId?: string; serverMessage: string; retryable: boolean; cause?: unknown},
  ) {
    super(code, message, {retryable: details.retryable, cause: details.cause})
    this.name = 'TencentApiError'
    this.action = details.action
    this.apiCode = details.apiCode
    this.requestId = details.requestId
    Object.defineProperty(this, 'serverMessage', {value: details.serverMessage, enumerable: false})
  }
}

export function readSdkFailure(error: unknown): SdkFailure {
  if (typeof error !== 'object' || error === null) return {message: String(error), fromSdk: false}
  const value = error as {code?: unknown; message?: unknown; requestId?: unknown; httpCode?: unknown; traceId?: unknown}
  return {
    code: typeof value.code === 'string' && value.code !== '' ? value.code : undefined,
    message: typeof value.message === 'string' ? value.message : String(error),
    requestId: typeof value.requestId === 'string' && value.requestId !== '' ? value.requestId : undefined,
    httpCode: typeof value.httpCode === 'number' ? value.httpCode : undefined,
    // The SDK's exception always carries a traceId field (maybe empty); a TypeError does not.
    fromSdk: 'traceId' in value,
  }
}

export function isThrottling(code: string | undefined): boolean {
  return code === 'RequestLimitExceeded' || (code?.startsWith('RequestLimitExceeded.') ?? false)
}

/** Retries after the first attempt: throttling gets several (it clears within seconds), other transient failures two. */
export const THROTTLE_RETRIES = 5
export const TRANSIENT_RETRIES = 2
export const MAX_RETRIES = Math.max(THROTTLE_RETRIES, TRANSIENT_RETRIES)

/** How many retries (after the first attempt) a call that failed like this gets. Pure. */
export function retriesFor(failure: Pick<TencentApiError, 'apiCode' | 'retryable'>): number {
  return isThrottling(failure.apiCode) ? THROTTLE_RETRIES : failure.retryable ? TRANSIENT_RETRIES : 0
}

/** May a call that failed with `error` on attempt `attempt` (1-based) be sent again? Pure. */
export function tcrRetryable(error: unknown, attempt: number): boolean {
  return error instanceof TencentApiError && attempt <= retriesFor(error)
}

/** Worth sending again: throttling, the API's internal errors, 5xx, and connections that failed. */
export function isTransient(failure: SdkFailure): boolean {
  if (failure.code) return isThrottling(failure.code) || failure.code === 'InternalError' || failure.code.startsWith('InternalError.')
  if (failure.httpCode !== undefined) return failure.httpCode >= 500
  return failure.fromSdk
}

/** "Already exists" in the words CreateNamespace may use; a re-check covers the words it may not. */
export function isAlreadyExists(error: unknown): boolean {
  if (!(error instanceof TencentApiError)) return false
  const code = error.apiCode ?? ''
  return /AlreadyExist|NameExist|ResourceInUse|Duplicate/i.test(code) || /already exists?/i.test(error.serverMessage)
}

/** One line, no secret, bounded: server text can be long, multi-line, or echo what it was sent. */
export function sanitize(text: string, secrets: readonly string[]): string {
  let out = text.replace(/\s+/g, ' ').trim()
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]')
  return out.length > 300 ? `${out.slice(0, 297)}...` : out
}

/**
 * The one-line error for a failed call: provider, action, the API's code, and what to do about
 * it. Never the request (it holds the signature) and never a key.
 */
export function apiError(
  side: TencentSide,
  action: string,
  error: unknown,
  context: {endpoint: string; secrets: readonly string[]; attempts: number},
): TencentApiError {
  const failure = readSdkFailure(error)
  const server = sanitize(failure.message, context.secrets)
  const retryable = isTransient(failure)
  const request = failure.requestId ? ` (request ${failure.requestId})` : ''
  const details = {action, apiCode: failure.code, requestId: failure.requestId, serverMessage: server, retryable, cause: error}
  if (failure.code) {
    const message = `${side}: ${action} failed with ${failure.code}: ${hint(side, action, failure.code, server, context.attempts)}${request}`
    return new TencentApiError(failure.code, message, details)
  }
  if (failure.httpCode !== undefined) {
    return new TencentApiError(
      `HTTP_${failure.httpCode}`,
      `${side}: ${action} failed with HTTP ${failure.httpCode} from ${context.endpoint}${tries(context.attempts)}`,
      details,
    )
  }
  if (failure.fromSdk) {
    return new TencentApiError(
      'NETWORK',
      `${side}: ${action} failed: cannot reach the Tencent Cloud API at ${context.endpoint}${tries(context.attempts)}: ${server}`,
      details,
    )
  }
  return new TencentApiError('BAD_ANSWER', `${side}: ${action} failed: unexpected answer from ${context.endpoint}: ${server}`, details)
}

function hint(side: TencentSide, action: string, code: string, server: string, attempts: number): string {
  if (isThrottling(code)) return `still rate-limited after ${attempts} attempts; lower --qps or try again later`
  if (code === 'AuthFailure.SignatureExpire') return "the local clock is more than 5 minutes off Tencent Cloud's; fix the clock"
  if (code === 'AuthFailure.UnauthorizedOperation' || code.startsWith('UnauthorizedOperation')) {
    return `the key may not call ${action}; grant it (see docs/providers/tcr.md#permissions-cam-policy)`
  }
  if (code.startsWith('AuthFailure')) return 'check secretId/secretKey in the secret file (--secretFile)'
  if (/Region/i.test(code)) return `check the region (${side === 'ccr' ? '--fromRegion' : '--toRegion'})`
  return server || 'no message'
}

function tries(attempts: number): string {
  return attempts > 1 ? ` after ${attempts} attempts` : ''
}
