import {FerryError, RegistryError} from '../errors.js'
import type {Challenge} from './challenge.js'
import {parseChallenges} from './challenge.js'
import {needsRenewal, type Lifetime, type RenewalMargin} from './credential-expiry.js'

export interface Credentials {
  username?: string
  password?: string
  /** An OAuth2 refresh token (docker's `identitytoken`): bearer tokens come from the realm by POST. */
  identityToken?: string
}

/**
 * Credentials that change during a run (a cloud provider's temporary login token): asked for
 * each time a token is fetched or a basic header is built, so the source can refresh them.
 * `refused` is a login the registry refused: the source renews it if it is still the current one.
 */
export type CredentialSource = (refused?: Credentials) => Promise<Credentials>

export interface IssuedToken {
  token: string
  /** Seconds the token is valid, as the token server said (60 when it did not, per the spec). */
  expiresIn: number
}

/** A GET of the Docker token protocol, or with `form` the OAuth2 POST of the same realm. */
export interface TokenRequest {
  url: string
  authorization?: string
  form?: URLSearchParams
}

/** Fetches a bearer token; the client supplies it so token requests pass the limiter too. */
export type TokenFetcher = (request: TokenRequest, signal?: AbortSignal) => Promise<IssuedToken>

/**
 * Tokens are refreshed 30 s before they expire, so a request never leaves with a dying one; half
 * the lifetime before for short-lived tokens, or every request would fetch a new one.
 */
const TOKEN_MARGIN: RenewalMargin = {maxMs: 30_000, fraction: 1 / 2}

/** A Basic header and the login it was built from. */
interface BasicLogin {
  header: string
  credentials: Credentials
}

/**
 * Decides the Authorization header of each request for one registry: nothing until the registry
 * challenges, then basic credentials or a bearer token for the request's scopes. Tokens are cached
 * per scope set with their expiry; concurrent requests for the same scopes share one token fetch.
 */
export class Authenticator {
  private challenge?: Challenge
  private readonly tokens = new Map<string, Lifetime & {value: string}>()
  private readonly pending = new Map<string, Promise<string>>()
  /** The last Basic header built, and the one the registry refused, to be renewed on the next. */
  private lastBasic?: BasicLogin
  private refusedBasic?: BasicLogin

  private readonly source: CredentialSource
  /** The credentials change during the run (a provider's temporary login): a refused one can be renewed. */
  readonly renewable: boolean
  /** Whether credentials were given at all (a dynamic source always counts as given). */
  readonly anonymous: boolean
  /** Why the credentials were kept from the token realm, when they were (for the refusal's message). */
  withheld?: string

  constructor(
    credentials: Credentials | CredentialSource,
    private readonly fetchToken: TokenFetcher,
    private readonly describe: string,
    /** The registry's own URL: its scheme decides whether a plain-HTTP realm may see credentials. */
    private readonly registry: URL,
  ) {
    if (typeof credentials === 'function') {
      this.source = credentials
      this.anonymous = false
      this.renewable = true
    } else {
      this.source = async () => credentials
      this.anonymous = !credentials.username && !credentials.identityToken
      this.renewable = false
    }
  }

  async authorization(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
    const challenge = this.challenge
    if (!challenge) return undefined
    if (challenge.scheme === 'basic') return this.basic()
    if (challenge.scheme !== 'bearer') return undefined
    const key = scopeKey(scopes)
    const cached = this.tokens.get(key)
    if (cached && !needsRenewal(cached, Date.now(), TOKEN_MARGIN)) return `Bearer ${cached.value}`
    let inFlight = this.pending.get(key)
    if (!inFlight) {
      inFlight = this.requestToken(challenge, scopes, key, signal).finally(() => this.pending.delete(key))
      this.pending.set(key, inFlight)
    }
    return `Bearer ${await inFlight}`
  }

  /**
   * Called on a 401. Returns true when sending the request again can succeed: the registry's
   * challenge is new to us, or the token we sent was stale. False means our credentials are
   * what the registry refuses.
   */
  unauthorized(header: string | undefined, scopes: readonly string[], sent: string | undefined): boolean {
    const challenge = parseChallenges(header).find((c) => c.scheme === 'bearer' || c.scheme === 'basic')
    if (!challenge) return false
    const known = this.challenge
    this.challenge = challenge
    if (!sent) return challenge.scheme === 'bearer' || !this.anonymous
    if (!known || known.scheme !== challenge.scheme) return true
    return this.expired(scopes, sent)
  }

  /**
   * The registry refused `sent` in a way that says (or, for a provider's login, may mean) that it
   * ran out. Returns true when sending again with a renewed credential can succeed: a bearer token
   * is dropped, unless another request already replaced it; a provider's login is renewed on the
   * next header (the provider decides whether it fetches a new one). The caller bounds how often
   * one request comes back, so a credential refused for good ends.
   */
  expired(scopes: readonly string[], sent: string | undefined): boolean {
    if (!sent) return false
    if (sent.startsWith('Bearer ')) {
      const key = scopeKey(scopes)
      if (this.tokens.get(key)?.value === sent.slice('Bearer '.length)) this.tokens.delete(key)
      return true
    }
    if (!this.renewable) return false
    if (this.lastBasic?.header === sent) this.refusedBasic = this.lastBasic
    return true
  }

  /** What the registry said when it refused a token (`insufficient_scope`, `invalid_token`). */
  get refusal(): string | undefined {
    return this.challenge?.params.error
  }

  private async basic(): Promise<string | undefined> {
    const refused = this.refusedBasic
    this.refusedBasic = undefined
    const credentials = await this.source(refused?.credentials)
    // An identity token is no password: it is only ever sent to the token realm.
    const header = basicHeader(credentials)
    if (!header) return undefined
    this.lastBasic = {header, credentials}
    return header
  }

  private async requestToken(challenge: Challenge, scopes: readonly string[], key: string, signal?: AbortSignal): Promise<string> {
    const realm = challenge.params.realm
    if (!realm) throw new FerryError('AUTH_FAILED', `${this.describe} sent a bearer challenge without a realm`)
    let url: URL
    try {
      url = new URL(realm)
    } catch {
      throw new FerryError('AUTH_FAILED', `${this.describe} sent a bearer challenge with an invalid realm`)
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new FerryError('AUTH_FAILED', `${this.describe} sent a bearer challenge with a ${url.protocol} realm; only http and https are used`)
    }
    const refusal = realmRefusal(this.registry, url)
    this.withheld = refusal
    // Kept back, the token is asked for anonymously: a public repository still works, and a
    // refusal says why the credentials were not sent.
    const ask = (credentials: Credentials) =>
      credentials.identityToken
        ? this.fetchToken({url: url.toString(), form: refreshTokenForm(credentials.identityToken, challenge, scopes)}, signal)
        : this.fetchToken({url: withTokenQuery(url, challenge, scopes), authorization: refusal ? undefined : basicHeader(credentials)}, signal)
    const credentials = refusal ? {} : await this.source()
    let issued: IssuedToken
    try {
      issued = await ask(credentials)
    } catch (error) {
      // A provider's login the token server refused may have run out: renewed once, asked once more.
      const refused = !refusal && this.renewable && error instanceof RegistryError && (error.status === 401 || error.status === 403)
      const renewed = refused ? await this.source(credentials) : credentials
      if (renewed.password === credentials.password && renewed.username === credentials.username) throw error
      issued = await ask(renewed)
    }
    const issuedAt = Date.now()
    this.tokens.set(key, {value: issued.token, issuedAt, expiresAt: issuedAt + issued.expiresIn * 1000})
    return issued.token
  }
}

/** The Basic header of a username and password; none for an identity token, which is no password. Pure. */
function basicHeader(credentials: Credentials): string | undefined {
  if (!credentials.username || credentials.identityToken) return undefined
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64')}`
}

/**
 * Why credentials must not go to a token realm, or undefined when they may. Pure.
 *
 * A realm on another host does get them over HTTPS: that is the token protocol's design (Docker
 * Hub's realm is auth.docker.io, Harbor and Quay may use a separate auth host), and the address
 * guard has already refused realms on private addresses the registry is not on. Over plain HTTP
 * only when the registry itself is configured `insecure` (plain HTTP): the user chose that for
 * this registry, never an HTTPS registry's realm.
 */
export function realmRefusal(registry: URL, realm: URL): string | undefined {
  if (realm.protocol === 'https:' || registry.protocol === 'http:') return undefined
  return `its token realm ${realm.origin} is plain HTTP while the registry is HTTPS`
}

/** The Docker token protocol's GET: service and every scope in the query. Pure. */
export function withTokenQuery(realm: URL, challenge: Challenge, scopes: readonly string[]): string {
  const url = new URL(realm)
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service)
  for (const scope of scopes) url.searchParams.append('scope', scope)
  return url.toString()
}

/** The OAuth2 refresh-token grant docker sends for an identity token (scopes space-separated). Pure. */
export function refreshTokenForm(identityToken: string, challenge: Challenge, scopes: readonly string[]): URLSearchParams {
  const form = new URLSearchParams({grant_type: 'refresh_token', refresh_token: identityToken, client_id: 'ferry'})
  if (challenge.params.service) form.set('service', challenge.params.service)
  if (scopes.length > 0) form.set('scope', scopes.join(' '))
  return form
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ')
}
