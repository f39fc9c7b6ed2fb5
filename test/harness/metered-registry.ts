// A source metered like Docker Hub: a real Distribution registry behind the hostile registry, whose
// manifest GETs are counted against a pull limit (HEAD is free), with `ratelimit-limit: N;w=W` and
// `ratelimit-remaining: M;w=W` on every manifest answer, and 429 without Retry-After once the
// window's pulls are spent. The window only resets when a test says so (`newWindow`), so a test
// never waits for a clock. Like the rest of the harness it shares no code with src/.
import type {Endpoint} from './http.js'
import {startHostileRegistry, type HostileRegistry} from './hostile-registry.js'
import type {FaultProxyOptions} from './fault-proxy.js'

export interface MeteredRegistry extends HostileRegistry {
  /** Pulls per window. */
  readonly limit: number
  /** Manifest GETs served (200) and refused (429) in the current window. */
  readonly served: number
  readonly refused: number
  /** Starts a new window: the pulls spent so far no longer count. */
  newWindow(): void
}

const MANIFEST = /^\/v2\/.+\/manifests\/[^/?]+(\?|$)/

export async function startMeteredRegistry(
  upstream: Pick<Endpoint, 'url' | 'caPem'>,
  options: FaultProxyOptions & {limit?: number; windowSeconds?: number} = {},
): Promise<MeteredRegistry> {
  const limit = options.limit ?? 25
  const window = options.windowSeconds ?? 60
  const proxy = await startHostileRegistry(upstream, options)
  let served = 0
  let refused = 0
  const headers = () => ({'ratelimit-limit': `${limit};w=${window}`, 'ratelimit-remaining': `${Math.max(0, limit - served)};w=${window}`})
  proxy.respond(MANIFEST, async (request, upstreamAnswer) => {
    if (request.method === 'GET') {
      if (served >= limit) {
        refused++
        return {
          status: 429,
          headers: {'content-type': 'application/json', ...headers()},
          body: JSON.stringify({errors: [{code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit.'}]}),
        }
      }
      served++
    }
    const real = await upstreamAnswer()
    const forwarded: Record<string, string> = {}
    for (const [name, value] of Object.entries(real.headers)) {
      if (value === undefined || name === 'transfer-encoding' || name === 'connection') continue
      forwarded[name] = Array.isArray(value) ? value.join(', ') : value
    }
    // A GET that found nothing spends nothing on the real Docker Hub either.
    if (request.method === 'GET' && real.status !== 200) served--
    return {status: real.status, headers: {...forwarded, ...headers()}, body: request.method === 'HEAD' ? undefined : real.body}
  })
  // Getters defined, not assigned: Object.assign would copy their values once.
  return Object.defineProperties(proxy, {
    limit: {value: limit},
    served: {get: () => served},
    refused: {get: () => refused},
    newWindow: {
      value: () => {
        served = 0
        refused = 0
      },
    },
  }) as MeteredRegistry
}
