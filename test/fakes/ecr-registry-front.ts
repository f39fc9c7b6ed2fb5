// ECR's registry side as far as logins go: an HTTP proxy in front of a real docker-registry that
// takes only the tokens the fake ECR API minted (`mintTokens`), judges each one when the request
// arrives, and forwards what it accepts with the registry's own login. What ECR answers:
// - no login, or a password it never issued: 401 with a Basic challenge;
// - a token past its expiry: 403 DENIED "Your authorization token has expired. Reauthenticate and try again."
// The check happens once per request, at its headers: a long upload that began with a live token
// is not cut when the token dies in the middle (ECR's front does not either).
import http from 'node:http'
import type {AddressInfo} from 'node:net'

export type TokenVerdict = 'valid' | 'expired' | 'unknown'

export interface FrontRequest {
  method: string
  path: string
  verdict: TokenVerdict | 'none'
  status: number
  /** The password sent, when it is one the fake minted (`…~N`): N. */
  token?: number
  at: number
}

export interface EcrRegistryFront {
  /** `127.0.0.1:PORT` */
  host: string
  /** `http://127.0.0.1:PORT`: the account's proxyEndpoint. */
  url: string
  requests: FrontRequest[]
  count(filter: {verdict?: FrontRequest['verdict']; status?: number; method?: string}): number
  stop(): Promise<void>
}

export interface FrontOptions {
  /** The real registry behind: its URL and the user and password its htpasswd takes. */
  upstream: {url: string; username: string; password: string}
  /** Judges a password as sent (user AWS); set after the fake ECR API is started. */
  verdict: (password: string) => TokenVerdict
}

const EXPIRED = {errors: [{code: 'DENIED', message: 'Your authorization token has expired. Reauthenticate and try again.'}]}
const NOT_AUTHORIZED = {errors: [{code: 'DENIED', message: 'Not Authorized'}]}

export async function startEcrRegistryFront(options: FrontOptions): Promise<EcrRegistryFront> {
  const upstream = new URL(options.upstream.url)
  const upstreamLogin = `Basic ${Buffer.from(`${options.upstream.username}:${options.upstream.password}`).toString('base64')}`
  const agent = new http.Agent({keepAlive: true})
  const requests: FrontRequest[] = []

  const server = http.createServer((req, res) => {
    const verdict = judge(req.headers.authorization, options.verdict)
    const record: FrontRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      verdict,
      status: 0,
      token: tokenNumber(req.headers.authorization),
      at: Date.now(),
    }
    requests.push(record)
    if (verdict !== 'valid') {
      const expired = verdict === 'expired'
      const body = JSON.stringify(expired ? EXPIRED : NOT_AUTHORIZED)
      record.status = expired ? 403 : 401
      // The request body is read and dropped, so the client sees the answer rather than a reset.
      req.resume()
      res.writeHead(record.status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        ...(expired ? {} : {'www-authenticate': `Basic realm="${`http://${req.headers.host}/`}",service="ecr.amazonaws.com"`}),
      })
      res.end(body)
      return
    }
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        // Host stays the front's, so the registry's upload Locations point back here.
        headers: {...req.headers, authorization: upstreamLogin},
        agent,
      },
      (answer) => {
        record.status = answer.statusCode ?? 0
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on('error', () => res.destroy())
    req.on('error', () => forward.destroy())
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy()
    })
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    count: (filter) =>
      requests.filter(
        (r) =>
          (filter.verdict === undefined || r.verdict === filter.verdict) &&
          (filter.status === undefined || r.status === filter.status) &&
          (filter.method === undefined || r.method === filter.method),
      ).length,
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function judge(authorization: string | undefined, verdict: (password: string) => TokenVerdict): TokenVerdict | 'none' {
  const match = /^Basic (.+)$/i.exec(authorization ?? '')
  if (!match) return 'none'
  const pair = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = pair.indexOf(':')
  if (colon < 0 || pair.slice(0, colon) !== 'AWS') return 'unknown'
  return verdict(pair.slice(colon + 1))
}

function tokenNumber(authorization: string | undefined): number | undefined {
  const match = /^Basic (.+)$/i.exec(authorization ?? '')
  const minted = match && /~(\d+)$/.exec(Buffer.from(match[1]!, 'base64').toString('utf8'))
  return minted ? Number(minted[1]) : undefined
}
