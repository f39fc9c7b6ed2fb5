import type http from 'node:http'
import type https from 'node:https'

import {HttpProxyAgent} from 'http-proxy-agent'
import {HttpsProxyAgent} from 'https-proxy-agent'
import {getProxyForUrl} from 'proxy-from-env'

import {FerryError} from '../errors.js'

/** The proxy URL for a request URL ('' for none): HTTPS_PROXY, HTTP_PROXY and NO_PROXY by default. */
export type ProxyFor = (url: string) => string

const AGENT = {keepAlive: true, maxSockets: 64}

/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY as curl reads them, except that loopback registries are
 * reached directly, as Go programs (skopeo, image-transfer) do: a proxy set for the outside world
 * must not swallow a registry on this machine. FERRY_PROXY_LOOPBACK=1 proxies them too.
 */
export function proxyFromEnvironment(url: string, env: NodeJS.ProcessEnv = process.env): string {
  if (isLoopback(new URL(url).hostname) && env.FERRY_PROXY_LOOPBACK !== '1') return ''
  return getProxyForUrl(url)
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/**
 * A CONNECT tunnel whose TLS to the registry keeps the registry's trust settings. https-proxy-agent
 * takes them from each request's options, which neither our transport nor axios sets, so they are
 * added here for every connection.
 */
class TunnelAgent extends HttpsProxyAgent<string> {
  constructor(
    proxy: string,
    private readonly targetTls: https.AgentOptions,
  ) {
    super(proxy, AGENT)
  }

  override connect(req: http.ClientRequest, opts: Parameters<HttpsProxyAgent<string>['connect']>[1]) {
    return super.connect(req, {...opts, ...this.targetTls})
  }
}

/**
 * The agents that reach registries through the proxy the environment names for them, as curl,
 * skopeo and Go programs do: CONNECT tunnels for https, absolute-URI requests for http, one
 * keep-alive agent per proxy and scheme. `undefined` means connect directly.
 */
export class ProxyAgents {
  private readonly agents = new Map<string, http.Agent>()
  /** Per scheme and host: the environment does not change during a run, and this is every request's path. */
  private readonly byOrigin = new Map<string, http.Agent | undefined>()

  constructor(
    /** Asked for on the first https tunnel only: building it costs CPU a plain-http run never needs. */
    private readonly targetTls: () => https.AgentOptions,
    private readonly proxyFor: ProxyFor = proxyFromEnvironment,
  ) {}

  for(target: URL): http.Agent | undefined {
    const origin = `${target.protocol}//${target.host}`
    if (this.byOrigin.has(origin)) return this.byOrigin.get(origin)
    const agent = this.agentFor(target)
    this.byOrigin.set(origin, agent)
    return agent
  }

  private agentFor(target: URL): http.Agent | undefined {
    const proxy = this.proxyFor(target.toString())
    if (!proxy) return undefined
    let parsed: URL
    try {
      parsed = new URL(proxy)
    } catch {
      // Not quoted: a proxy URL may hold a password.
      throw new FerryError(
        'INVALID_CONFIG',
        `the proxy for ${target.host} (HTTPS_PROXY / HTTP_PROXY) is not a URL; write it as http://[USER:PASSWORD@]HOST:PORT`,
      )
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new FerryError(
        'INVALID_CONFIG',
        `the proxy for ${target.host} (HTTPS_PROXY / HTTP_PROXY) is a ${parsed.protocol} URL; ferry speaks to http:// and https:// proxies`,
      )
    }
    const secure = target.protocol === 'https:'
    const key = `${secure ? 'https' : 'http'} ${proxy}`
    let agent = this.agents.get(key)
    if (!agent) {
      agent = secure ? new TunnelAgent(proxy, this.targetTls()) : new HttpProxyAgent(proxy, AGENT)
      this.agents.set(key, agent)
    }
    return agent
  }
}

/** Passwords in the proxy variables, so that whatever prints messages can blank them out. */
export function proxySecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  const secrets: string[] = []
  for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy']) {
    try {
      const password = decodeURIComponent(new URL(env[name] ?? '').password)
      if (password) secrets.push(password)
    } catch {
      // Unset or not a URL: no password to hide (a malformed one is refused when it is used).
    }
  }
  return secrets
}
