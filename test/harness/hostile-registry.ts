// A hostile (or merely broken) source registry: a real Distribution registry behind the fault
// proxy, with forged answers for the few requests a test names. Everything not forged is the
// real registry's answer, so ferry meets a registry that works except where it lies. Like the
// rest of the harness it shares no code with src/.
import {Readable} from 'node:stream'
import {startFaultProxy, type ActiveFault, type Answer, type FaultProxy, type FaultProxyOptions, type ProxyRequest, type UpstreamAnswer} from './fault-proxy.js'
import type {Endpoint} from './http.js'

export interface HostileRegistry extends FaultProxy {
  /** Answers `GET /v2/<repository>/tags/list` with these tags (and a `Link` header when given). */
  forgeTags(repository: string, tags: unknown[], options?: {link?: string}): ActiveFault
  /** Answers `GET /v2/_catalog` with these repositories (and a `Link` header when given). */
  forgeCatalog(repositories: unknown[], options?: {link?: string}): ActiveFault
  /** Requests matching `path` get `status` with a body that never ends (until the client goes). */
  endlessBody(path: RegExp, options?: {status?: number; method?: string; contentType?: string}): ActiveFault
  /** Requests matching `path` are redirected to `location` (a function of the request, or fixed). */
  redirect(path: RegExp, location: string | ((request: ProxyRequest) => string), options?: {status?: number; method?: string}): ActiveFault
  /** The real answer to requests matching `path`, its JSON body rewritten by `edit`. */
  rewriteJson(path: RegExp, edit: (json: any, request: ProxyRequest) => unknown, options?: {method?: string; headers?: Record<string, string>}): ActiveFault
  /** Any forged answer. */
  respond(
    path: RegExp,
    answer: (request: ProxyRequest, upstream: () => Promise<UpstreamAnswer>) => Promise<Answer> | Answer,
    options?: {method?: string},
  ): ActiveFault
}

/** An endless stream of `byte`, produced as fast as it is read. */
export function endlessStream(byte = 0x7b): Readable {
  const chunk = Buffer.alloc(64 * 1024, byte)
  return new Readable({
    read() {
      this.push(chunk)
    },
  })
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

export async function startHostileRegistry(upstream: Pick<Endpoint, 'url' | 'caPem'>, options: FaultProxyOptions = {}): Promise<HostileRegistry> {
  const proxy = await startFaultProxy(upstream, options)
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({
    status,
    headers: {'content-type': 'application/json', ...headers},
    body: JSON.stringify(body),
  })
  const respond: HostileRegistry['respond'] = (path, answer, options = {}) =>
    proxy.addFault({path, ...(options.method ? {method: options.method} : {}), fault: {kind: 'respond', answer}})
  return Object.assign(proxy, {
    forgeTags(repository: string, tags: unknown[], options: {link?: string} = {}) {
      const path = new RegExp(`^/v2/${escapeRegExp(repository)}/tags/list(\\?|$)`)
      return respond(path, () => json(200, {name: repository, tags}, options.link ? {link: options.link} : {}), {method: 'GET'})
    },
    forgeCatalog(repositories: unknown[], options: {link?: string} = {}) {
      return respond(/^\/v2\/_catalog(\?|$)/, () => json(200, {repositories}, options.link ? {link: options.link} : {}), {method: 'GET'})
    },
    endlessBody(path: RegExp, options: {status?: number; method?: string; contentType?: string} = {}) {
      return respond(
        path,
        () => ({status: options.status ?? 200, headers: {'content-type': options.contentType ?? 'application/json'}, body: () => endlessStream()}),
        options.method ? {method: options.method} : {},
      )
    },
    redirect(path: RegExp, location: string | ((request: ProxyRequest) => string), options: {status?: number; method?: string} = {}) {
      return respond(
        path,
        (request) => ({status: options.status ?? 307, headers: {location: typeof location === 'string' ? location : location(request)}}),
        options.method ? {method: options.method} : {},
      )
    },
    rewriteJson(path: RegExp, edit: (json: any, request: ProxyRequest) => unknown, options: {method?: string; headers?: Record<string, string>} = {}) {
      return respond(
        path,
        async (request, upstreamAnswer) => {
          const real = await upstreamAnswer()
          const edited = Buffer.from(JSON.stringify(edit(JSON.parse(real.body.toString('utf8')), request)))
          const headers: Record<string, string> = {}
          for (const [name, value] of Object.entries(real.headers)) {
            if (value === undefined || name === 'content-length' || name === 'docker-content-digest' || name === 'etag') continue
            headers[name] = Array.isArray(value) ? value.join(', ') : value
          }
          return {status: real.status, headers: {...headers, ...(options.headers ?? {})}, body: edited}
        },
        options.method ? {method: options.method} : {},
      )
    },
    respond,
  })
}
