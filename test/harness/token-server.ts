// A minimal Docker token-auth server (the `realm` of a Bearer challenge) for
// Distribution's `auth.token` mode.
//
// Distribution 2.8 finds the key that signed a token from, in order: the JWT
// header's `x5c` chain (verified against `rootcertbundle`), a raw `jwk`, or a
// `kid` equal to the libtrust fingerprint of a bundled key. x5c avoids having
// to reimplement libtrust's key IDs, so tokens carry the signing certificate.
// `aud` is sent as a single string: 2.8 compares it against `service`.
import {randomUUID, sign, X509Certificate} from 'node:crypto'
import {mkdtemp, rm} from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import {onProcessExit, removeDirOnExit} from './cleanup.js'
import {makeSigningCertificate} from './tls.js'

export interface Scope {
  /** `repository`, `registry`, … */
  type: string
  /** e.g. `team/app`, or `catalog` for `registry:catalog:*`. */
  name: string
  actions: string[]
}

export interface TokenRequestRecord {
  method: string
  /** The basic-auth user, when credentials were sent and valid. */
  account?: string
  /** True when credentials were sent (valid or not). */
  sentCredentials: boolean
  /** The OAuth2 form's grant_type (POST only). */
  grantType?: string
  service?: string
  /** The raw scope strings, in the order received. */
  scopes: string[]
  granted: Scope[]
  status: number
  /** The token issued (status 200), so tests can check it never leaks into output. */
  token?: string
}

export interface TokenServerOptions {
  /** Accounts allowed to log in; default {ferry: 'ferry-secret'}. */
  users?: Record<string, string>
  /** Grant `pull` to requests without credentials. Default false. */
  anonymousPull?: boolean
  /** Token lifetime in seconds as told to clients (expires_in, exp); default 300. */
  expiresIn?: number
  /**
   * Seconds after issue at which the registry starts rejecting the token.
   * Distribution 2.8 accepts tokens up to 60 s past `exp`, so `expiresIn`
   * alone cannot make a short test see an expired token; this moves `exp`
   * back by that leeway (and must be >= 1). Clients still see `expiresIn`.
   */
  registryAcceptsFor?: number
  service?: string
  issuer?: string
  /**
   * Overrides what is granted per scope (default: every requested action to
   * any valid account). Lets tests model read-only accounts and denials.
   */
  grant?: (account: string | undefined, scope: Scope) => string[]
  /** Where to put the signing certificate; default a fresh temp dir. */
  dir?: string
  /**
   * OAuth2 refresh tokens (what docker stores as `identitytoken`) → the account each stands for,
   * accepted by POST with grant_type=refresh_token. None by default.
   */
  refreshTokens?: Record<string, string>
}

export interface TokenServer {
  url: string
  /** The URL to put in Distribution's `auth.token.realm`. */
  realm: string
  service: string
  issuer: string
  /** Certificate to list in Distribution's `auth.token.rootcertbundle`. */
  certFile: string
  certPem: string
  /** Every token request so far, oldest first. */
  requests: TokenRequestRecord[]
  /** Forgets recorded requests (e.g. after seeding, before the run under test). */
  reset(): void
  stop(): Promise<void>
}

/** Distribution's clock-skew allowance on exp and nbf (registry/auth/token). */
const DISTRIBUTION_LEEWAY = 60

export const DEFAULT_USERS: Readonly<Record<string, string>> = {ferry: 'ferry-secret'}

export function parseScope(raw: string): Scope | undefined {
  // The name may itself contain ':' in the `repository(plugin)` forms, so
  // split at the first and last colon only.
  const first = raw.indexOf(':')
  const last = raw.lastIndexOf(':')
  if (first <= 0 || last === first) return undefined
  const actions = raw
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '')
  return {type: raw.slice(0, first), name: raw.slice(first + 1, last), actions}
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url')
}

function parseBasic(header: string | undefined): {user: string; password: string} | undefined {
  if (!header?.toLowerCase().startsWith('basic ')) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return {user: decoded.slice(0, colon), password: decoded.slice(colon + 1)}
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const users = options.users ?? DEFAULT_USERS
  const service = options.service ?? 'ferry-test-registry'
  const issuer = options.issuer ?? 'ferry-test-token-issuer'
  const expiresIn = options.expiresIn ?? 300
  const ownDir = options.dir === undefined
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'ferry-token-')))
  const forgetDir = ownDir ? removeDirOnExit(dir) : () => {}
  const signing = await makeSigningCertificate(dir)
  const x5c = [new X509Certificate(signing.certPem).raw.toString('base64')]
  const requests: TokenRequestRecord[] = []

  const grant =
    options.grant ??
    ((account: string | undefined, scope: Scope): string[] => {
      if (account !== undefined) return scope.actions
      return options.anonymousPull && scope.type === 'repository' ? scope.actions.filter((a) => a === 'pull') : []
    })

  function issue(account: string | undefined, access: Scope[]): string {
    const now = Math.floor(Date.now() / 1000)
    const header = {typ: 'JWT', alg: 'ES256', x5c}
    const claims = {
      iss: issuer,
      sub: account ?? '',
      aud: service,
      exp: options.registryAcceptsFor === undefined ? now + expiresIn : now + options.registryAcceptsFor - DISTRIBUTION_LEEWAY,
      nbf: now,
      iat: now,
      jti: randomUUID(),
      access: access.map((s) => ({type: s.type, name: s.name, actions: s.actions})),
    }
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
    // JWS wants ECDSA signatures as raw r||s, not the DER node emits by default.
    const signature = sign('sha256', Buffer.from(signingInput), {key: signing.keyPem, dsaEncoding: 'ieee-p1363'})
    return `${signingInput}.${base64url(signature)}`
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const record: TokenRequestRecord = {method: req.method ?? 'GET', sentCredentials: false, scopes: [], granted: [], status: 0}
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      record.status = status
      requests.push(record)
      res.writeHead(status, {'content-type': 'application/json', ...headers})
      res.end(JSON.stringify(body))
    }
    if (url.pathname !== '/token') {
      reply(404, {errors: [{code: 'NOT_FOUND', message: url.pathname}]})
      return
    }

    // GET is the Docker token protocol; POST is its OAuth2 variant: grant_type=password, which
    // some clients prefer when they have a password, or refresh_token for an identity token.
    let params = url.searchParams
    let credentials = parseBasic(req.headers.authorization)
    if (req.method === 'POST') {
      params = new URLSearchParams(await readBody(req))
      record.grantType = params.get('grant_type') ?? undefined
      if (params.get('grant_type') === 'password') {
        credentials = {user: params.get('username') ?? '', password: params.get('password') ?? ''}
      } else if (params.get('grant_type') === 'refresh_token') {
        const account = options.refreshTokens?.[params.get('refresh_token') ?? '']
        if (account === undefined) {
          reply(401, {error: 'invalid_grant'})
          return
        }
        credentials = {user: account, password: users[account] ?? ''}
      } else {
        reply(400, {error: 'unsupported_grant_type'})
        return
      }
    } else if (req.method !== 'GET') {
      reply(405, {errors: [{code: 'UNSUPPORTED'}]})
      return
    }

    record.service = params.get('service') ?? undefined
    // Several `scope` parameters are allowed, and the OAuth2 form packs
    // several into one, space-separated.
    record.scopes = params
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter((s) => s !== '')
    record.sentCredentials = credentials !== undefined

    if (record.service !== undefined && record.service !== service) {
      reply(400, {errors: [{code: 'DENIED', message: `unknown service ${record.service}`}]})
      return
    }
    if (credentials !== undefined) {
      if (!Object.hasOwn(users, credentials.user) || users[credentials.user] !== credentials.password) {
        reply(
          401,
          {errors: [{code: 'UNAUTHORIZED', message: 'invalid username or password'}]},
          {
            'www-authenticate': 'Basic realm="ferry-test-token"',
          },
        )
        return
      }
      record.account = credentials.user
    }

    for (const raw of record.scopes) {
      const scope = parseScope(raw)
      if (scope === undefined) continue
      const actions = grant(record.account, scope).filter((a) => scope.actions.includes(a) || scope.actions.includes('*'))
      if (actions.length > 0) record.granted.push({...scope, actions})
    }
    // Like Docker Hub: an anonymous or under-privileged caller still gets a
    // token, just one granting less; the registry then answers 401/403.
    const token = issue(record.account, record.granted)
    record.token = token
    reply(200, {token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString()})
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500)
      res.end(String(error))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  // A test that forgets stop() must not keep the test process alive.
  server.unref()
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('token server has no port')
  const url = `http://127.0.0.1:${address.port}`
  const forgetServer = onProcessExit(() => server.close())

  let stopped = false
  return {
    url,
    realm: `${url}/token`,
    service,
    issuer,
    certFile: signing.certFile,
    certPem: signing.certPem,
    requests,
    reset: () => {
      requests.length = 0
    },
    stop: async () => {
      if (stopped) return
      stopped = true
      forgetServer()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      if (ownDir) {
        forgetDir()
        await rm(dir, {recursive: true, force: true})
      }
    },
  }
}
