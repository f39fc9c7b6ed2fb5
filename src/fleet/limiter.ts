import {randomUUID} from 'node:crypto'

import Bottleneck from 'bottleneck'
import type {Redis} from 'ioredis'

import {slidingWindow, type RequestLimiter} from '../registry/limiter.js'

/**
 * The sliding-window count as one Redis script, so that workers on different machines see one
 * window: drop starts older than the window, admit when fewer than `limit` remain, else answer how
 * long until the oldest leaves it. Redis's own clock decides, not the workers' (which may differ).
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, math.ceil((tonumber(oldest[2]) + window - now) / 1000))
`

export interface FleetLimiterOptions {
  /** A connection of its own is made from it (bottleneck subscribes on a duplicate). */
  redis: Redis
  /** Every worker of one queue passes the same id, and so shares one budget. */
  id: string
  qps: number
}

/**
 * The fleet's one request budget: `qps` requests per second across every worker that uses the same
 * id. bottleneck's Redis clustering spaces starts 1000/qps ms apart across the cluster (evenly
 * paced, as one process would), and a sliding window kept in Redis is the hard bound under it, with
 * a 100 ms margin for what happens between admission and the wire: a Redis round trip and a busy
 * worker's event loop. With a 50 ms margin (the single-process limiter's then), three workers on a loaded 2-core
 * machine were once seen 101 times in one sliding second at --qps 100 (test/e2e/fleet.test.ts).
 */
export async function createFleetLimiter(options: FleetLimiterOptions): Promise<RequestLimiter> {
  const {qps} = options
  if (!(qps > 0) || !Number.isFinite(qps)) throw new RangeError('a fleet limiter needs a positive qps')
  const connection = new Bottleneck.IORedisConnection({client: options.redis})
  const bottleneck = new Bottleneck({
    id: options.id,
    datastore: 'ioredis',
    connection,
    // Never wipe the shared state: other workers are scheduling against it right now.
    clearDatastore: false,
    // Whole milliseconds: bottleneck's Redis scripts stall on a fractional minTime. Rounded up, so
    // the pacing never exceeds qps (--qps 120 paces at 9 ms, 111 per second).
    minTime: Math.ceil(1000 / qps),
    maxConcurrent: null,
    // The Redis keys go away after an idle minute rather than lingering forever.
    timeout: 60_000,
  })
  await bottleneck.ready()
  // The stored settings win over a new client's; the latest --qps is the fleet's from now on.
  await bottleneck.updateSettings({minTime: Math.ceil(1000 / qps)})
  const windowKey = `${options.id}:window`
  const {slots, windowMs} = slidingWindow(qps, 100)
  const windowUs = Math.ceil(windowMs * 1000)
  let started = 0
  let stopped = false
  const admit = async () => {
    for (;;) {
      const wait = Number(await options.redis.eval(ADMIT, 1, windowKey, String(slots), String(windowUs), randomUUID()))
      if (wait <= 0) return
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
  return {
    schedule: (task) =>
      bottleneck.schedule(async () => {
        await admit()
        started++
        return task()
      }),
    get started() {
      return started
    },
    async stop() {
      if (stopped) return
      stopped = true
      await bottleneck.stop({dropWaitingJobs: true}).catch(() => undefined)
      // A connection given to bottleneck is not closed with the limiter: its heartbeat and the
      // subscriber it duplicated would keep the process alive.
      await connection.disconnect(false)
    },
  }
}
