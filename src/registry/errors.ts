import {FerryError, RegistryError} from '../errors.js'
import {parseRetryAfter} from '../retry.js'

/** Codes used when a registry answers an error status without an OCI error body. */
function codeForStatus(status: number): string {
  if (status === 401) return 'UNAUTHORIZED'
  if (status === 403) return 'DENIED'
  if (status === 404) return 'NOT_FOUND'
  if (status === 405) return 'UNSUPPORTED'
  if (status === 407) return 'PROXY_AUTH'
  if (status === 413) return 'TOO_LARGE'
  if (status === 429) return 'TOOMANYREQUESTS'
  if (status >= 500) return 'SERVER_ERROR'
  return `HTTP_${status}`
}

/** 5xx and 429 are passing states of the server; 408 is a timeout on its side. */
export function retryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408
}

/**
 * Builds the error for an error response. `what` names the operation and target without any
 * query string (upload URLs carry session state) and never a header value.
 */
export function registryErrorFromResponse(status: number, headers: Record<string, string>, body: Buffer | undefined, what: string): RegistryError {
  let code = codeForStatus(status)
  let detail = ''
  if (body && body.length > 0) {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as {errors?: {code?: unknown; message?: unknown}[]}
      const first = parsed.errors?.[0]
      if (first && typeof first.code === 'string') code = first.code
      if (first && typeof first.message === 'string') detail = first.message
    } catch {
      // Not an OCI error body (an HTML error page from a proxy, say): the status says enough.
    }
  }
  const retryAfterMs = parseRetryAfter(headers['retry-after'])
  if (status === 407) {
    // The proxy answered, not the registry: say which login to fix (never quoting it).
    return new RegistryError(
      code,
      `${what}: 407 the proxy refused the login; check the user and password in HTTPS_PROXY / HTTP_PROXY (http://USER:PASSWORD@HOST:PORT)`,
      {status},
    )
  }
  const message = `${what}: ${status} ${code}${detail ? ` (${shortDetail(detail, 200)})` : ''}`
  return new RegistryError(code, message, {status, retryable: retryableStatus(status), retryAfterMs})
}

/**
 * A registry's message cut to `max` characters at a word boundary. A credential the registry
 * quoted back is blanked later by the redactor, which needs the whole value to find it: a cut in
 * the middle of one would print its first half. The word that straddles the cut is dropped. Pure.
 */
export function shortDetail(detail: string, max: number): string {
  if (detail.length <= max) return detail
  const cut = detail.slice(0, max + 1).search(/\s\S*$/)
  return `${cut > 0 ? detail.slice(0, cut) : ''}…`
}

/**
 * A failure below HTTP (reset, refused, timeout, abort) as a FerryError; resets are retryable.
 * `writtenIn` (RegistryAccess) says where the registry's TLS settings are written, when known.
 */
export function networkError(error: unknown, what: string, signal?: AbortSignal, writtenIn?: string): FerryError {
  if (FerryError.is(error)) return error
  if (signal?.aborted) return new FerryError('ABORTED', `${what}: aborted`, {cause: error})
  const code = (error as {code?: string}).code
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
    return new FerryError('TIMEOUT', `${what}: timed out`, {retryable: true, cause: error})
  }
  if (code === 'ERR_CANCELED') return new FerryError('ABORTED', `${what}: aborted`, {cause: error})
  const detail = code ?? (error instanceof Error ? error.message : String(error))
  const certificate = typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)
  if (certificate) {
    return new FerryError(
      'TLS',
      `${what}: TLS certificate not trusted (${code}); set caFile for this registry${writtenIn ? ` (${writtenIn})` : ''}, or skipTlsVerify: true`,
      {
        cause: error,
      },
    )
  }
  return new FerryError('NETWORK', `${what}: ${detail}`, {retryable: true, cause: error})
}
