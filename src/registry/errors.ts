import {FerryError, RegistryError, type FerryCode} from '../errors.js'
import {failedElsewhere} from './http-transport.js'
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
  const first = firstError(body)
  const code = first?.code ?? codeForStatus(status)
  const detail = first?.message ?? ''
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

/** The first error of an OCI error body (`{"errors":[{"code","message"}]}`), when it is one. Pure. */
export function firstError(body: Buffer | undefined): {code?: string; message?: string} | undefined {
  if (!body || body.length === 0) return undefined
  try {
    const first = (JSON.parse(body.toString('utf8')) as {errors?: {code?: unknown; message?: unknown}[]}).errors?.[0]
    if (!first) return undefined
    return {code: typeof first.code === 'string' ? first.code : undefined, message: typeof first.message === 'string' ? first.message : undefined}
  } catch {
    // Not an OCI error body (an HTML error page from a proxy, say): the status says enough.
    return undefined
  }
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

/** Where an attempt went: the registry as users write it, and the URL asked for. */
export interface AttemptTarget {
  registry: string
  url: string
}

/**
 * Failures that say the registry itself cannot be reached as configured: every other request to it
 * would meet the same, so the run marks it down (RegistryStops) after the request's own retries.
 */
const registryDown = new WeakSet<object>()

/** Was `error` the registry's own verdict of unreachable (not a storage host a redirect named)? */
export function registryUnreachable(error: unknown): error is FerryError {
  return typeof error === 'object' && error !== null && registryDown.has(error)
}

/** Refusals of the credentials themselves (a wrong password), with the line that says so once for the run. */
const credentialVerdicts = new WeakMap<object, string>()

/**
 * Marks `error` as the registry refusing the credentials outright (Basic refused, or the token
 * server refusing the login): every request with them would be refused the same way, so the run
 * says `line` once and sends no more of them (RegistryStops).
 */
export function credentialsRefused<E extends object>(error: E, line: string): E {
  credentialVerdicts.set(error, line)
  return error
}

/** The once-per-run line of a credential refusal, when `error` is one. */
export function credentialVerdict(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? credentialVerdicts.get(error) : undefined
}

/** The once-per-run line of a username and password the registry (or its token server) refuses. Pure. */
export function wrongLogin(registry: string, writtenIn?: string, tokenServer = false): string {
  return `${tokenServer ? 'token server of ' : ''}registry ${registry} refused the credentials given for ${registry}${writtenIn ? ` (${writtenIn})` : ''}; check the username and password`
}

/** Node's words for a TLS handshake answered by a plain-HTTP server. */
const PLAIN_HTTP_ANSWER = /wrong version number|packet length too long|WRONG_VERSION_NUMBER/i

/**
 * One line in words for a connection that failed before HTTP at the registry itself (plain HTTP
 * where TLS was expected, a closed port, a name that does not resolve, a certificate), naming the
 * registry and what to do; undefined for anything else. Pure.
 */
export function unreachableLine(
  code: string | undefined,
  message: string,
  target: AttemptTarget,
  writtenIn?: string,
): {code: FerryCode; line: string; retryable: boolean} | undefined {
  const url = new URL(target.url)
  const registry = `registry ${target.registry}`
  const at = writtenIn ? ` (${writtenIn})` : ''
  // The host contacted, when it is not the name the user wrote (docker.io is registry-1.docker.io).
  const host = url.host === target.registry ? '' : ` at ${url.host}`
  if (url.protocol === 'https:' && (code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER') && PLAIN_HTTP_ANSWER.test(message)) {
    return {
      code: 'PLAIN_HTTP',
      line: `${registry} answers plain HTTP, not HTTPS${host}: set insecure: true for it${writtenIn ? at : ' in the security file'}, or write its key as "http://${target.registry}"`,
      retryable: false,
    }
  }
  if (code === 'ECONNREFUSED') {
    return {
      code: 'CONNECTION_REFUSED',
      line: `${registry} refused the connection${host} (ECONNREFUSED): is the registry running, and on that port?`,
      retryable: true,
    }
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
    return {
      code: 'UNKNOWN_HOST',
      line: `${registry}: the host name ${url.hostname} does not resolve (${code}); check how it is spelled, and the DNS`,
      retryable: code === 'EAI_AGAIN',
    }
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      code: 'TLS',
      line: `${registry}: its TLS certificate is not for ${url.hostname} (${code}); reach it by a name the certificate carries, or set skipTlsVerify: true for it${at}`,
      retryable: false,
    }
  }
  if (code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return {
      code: 'TLS',
      line: `${registry}: TLS certificate not trusted (${code}); set caFile for this registry${at}, or skipTlsVerify: true`,
      retryable: false,
    }
  }
  return undefined
}

/**
 * A failure below HTTP (reset, refused, timeout, abort) as a FerryError; resets are retryable.
 * `writtenIn` (RegistryAccess) says where the registry's TLS settings are written, when known.
 * With `target` (an attempt at the registry), a failure that says the registry cannot be reached
 * is one line in words, marked for the run to stop the registry (`registryUnreachable`).
 */
export function networkError(error: unknown, what: string, signal?: AbortSignal, writtenIn?: string, target?: AttemptTarget): FerryError {
  if (FerryError.is(error)) return error
  if (signal?.aborted) return new FerryError('ABORTED', `${what}: aborted`, {cause: error})
  const code = (error as {code?: string}).code
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
    return new FerryError('TIMEOUT', `${what}: timed out`, {retryable: true, cause: error})
  }
  if (code === 'ERR_CANCELED') return new FerryError('ABORTED', `${what}: aborted`, {cause: error})
  const message = error instanceof Error ? error.message : String(error)
  const detail = code ?? message
  // A redirect to storage that failed says nothing of the registry.
  if (target && failedElsewhere(error) === undefined) {
    const words = unreachableLine(code, message, target, writtenIn)
    if (words) {
      const typed = new FerryError(words.code, words.line, {retryable: words.retryable, cause: error})
      registryDown.add(typed)
      return typed
    }
  }
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
