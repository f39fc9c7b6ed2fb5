import {FerryError} from '../errors.js'
import {parseRegistryHost} from '../reference.js'
import type {LoginLifetime} from './temporary-login.js'

/** One GetAuthorizationToken answer, decoded: registry login plus where and until when it works. */
export interface EcrAuthorization extends LoginLifetime {
  username: string
  password: string
  /** Registry host[:port] from proxyEndpoint. */
  registry: string
  /** proxyEndpoint was http:// (a local stand-in): the registry speaks plain HTTP. */
  insecure: boolean
}

/** What the SDK hands back, reduced to the fields we read. */
export interface AuthorizationData {
  authorizationToken?: string
  expiresAt?: Date
  proxyEndpoint?: string
}

// ECR documents 12 hours; a token without an expiry is trusted for one hour only.
const UNKNOWN_LIFETIME_MS = 60 * 60_000

/** The base64 `AWS:password` pair. Pure. */
export function decodeAuthorizationToken(token: string): {username: string; password: string} {
  const pair = Buffer.from(token, 'base64').toString('utf8')
  const colon = pair.indexOf(':')
  if (colon <= 0) throw new FerryError('AUTH_FAILED', 'ecr: GetAuthorizationToken returned a token that is not base64 user:password')
  return {username: pair.slice(0, colon), password: pair.slice(colon + 1)}
}

/** `https://123456789012.dkr.ecr.us-east-1.amazonaws.com` → host and whether it is plain HTTP. Pure. */
export function registryFromProxyEndpoint(proxyEndpoint: string): {registry: string; insecure: boolean} {
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(proxyEndpoint) ? proxyEndpoint : `https://${proxyEndpoint}`)
  } catch {
    throw new FerryError('AUTH_FAILED', `ecr: GetAuthorizationToken returned an invalid proxyEndpoint ${JSON.stringify(proxyEndpoint)}`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new FerryError('AUTH_FAILED', `ecr: GetAuthorizationToken returned a ${url.protocol} proxyEndpoint; only http(s) is supported`)
  }
  return {registry: parseRegistryHost(url.host), insecure: url.protocol === 'http:'}
}

export function decodeAuthorization(data: AuthorizationData | undefined, issuedAt: number): EcrAuthorization {
  if (!data?.authorizationToken || !data.proxyEndpoint) {
    throw new FerryError('AUTH_FAILED', 'ecr: GetAuthorizationToken returned no authorization data for the registry')
  }
  const expiresAt = data.expiresAt instanceof Date && !Number.isNaN(data.expiresAt.getTime()) ? data.expiresAt.getTime() : issuedAt + UNKNOWN_LIFETIME_MS
  return {...decodeAuthorizationToken(data.authorizationToken), ...registryFromProxyEndpoint(data.proxyEndpoint), issuedAt, expiresAt}
}
