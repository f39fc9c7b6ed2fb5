import {createHash} from 'node:crypto'

import {Redis} from 'ioredis'

import {ConfigError, describeError, FerryError} from '../errors.js'
import {DEFAULT_QUEUE_NAME} from './queue-name.js'

export {DEFAULT_QUEUE_NAME}

/** Where a fleet meets: one Redis and a queue name; everything ferry keeps there is keyed by both. */
export interface QueueAddress {
  /** redis://HOST:PORT/DB or rediss://… as the user gave it (may hold a Redis password). */
  url: string
  /** BullMQ queue name; several independent fleets can share one Redis under different names. */
  name: string
}

/** Checks --queue and --queueName before anything connects; a bad value is a one-line ConfigError. */
export function parseQueueAddress(url: string, name: string = DEFAULT_QUEUE_NAME): QueueAddress {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // Not echoed: a mistyped URL may still hold the Redis password.
    throw new ConfigError('--queue is not a URL; write redis://[:PASSWORD@]HOST:PORT/DB')
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigError(`--queue must be a redis:// or rediss:// URL (got ${parsed.protocol}//)`)
  }
  if (!parsed.hostname) throw new ConfigError('--queue names no host; write redis://HOST:PORT/DB')
  const db = parsed.pathname.replace(/^\//, '')
  if (db !== '' && !/^\d+$/.test(db)) throw new ConfigError(`--queue database must be a number (got ${JSON.stringify(db)})`)
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new ConfigError(`--queueName ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-' only`)
  return {url, name}
}

/**
 * A connection for BullMQ and ferry's own keys. `maxRetriesPerRequest: null` is what BullMQ's
 * workers need (blocking commands); the connection then waits out a Redis restart.
 */
export function connect(address: QueueAddress, options: {blocking?: boolean} = {}): Redis {
  // A worker rides out a Redis restart; a one-shot command (enqueue, status, retry) fails soon instead.
  const redis = new Redis(address.url, options.blocking ? {maxRetriesPerRequest: null} : {maxRetriesPerRequest: 2, connectTimeout: 5000})
  // The failing command reports the error; without a listener ioredis would also print each one.
  redis.on('error', () => undefined)
  return redis
}

/**
 * Fails fast, in one line, when the queue's Redis cannot be reached: a connection left to retry
 * would wait for ever (a worker) or print each failed attempt (BullMQ, without a listener).
 */
export async function checkReachable(address: QueueAddress, timeoutMs = 5000): Promise<void> {
  const redis = new Redis(address.url, {maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null, lazyConnect: true})
  let cause: unknown
  redis.on('error', (error) => (cause ??= error))
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ])
  } catch (error) {
    const url = new URL(address.url)
    throw new FerryError(
      'QUEUE_UNREACHABLE',
      `cannot reach the queue's Redis at ${url.hostname}:${url.port || 6379} (${describeError(cause ?? error)}); check --queue`,
    )
  } finally {
    redis.disconnect()
  }
}

/** ferry's own keys next to BullMQ's (bytes copied, the rate window, blob locks), per queue. */
export function fleetKey(address: QueueAddress, ...parts: string[]): string {
  return ['ferry', address.name, ...parts].join(':')
}

/**
 * A job's id: the source manifest's digest and every destination reference. The same rules
 * enqueued again give the same ids, and BullMQ adds nothing for an id it holds (waiting, active,
 * done or failed); a source tag moved to a new digest is a new job.
 */
export function jobIdOf(sourceDigest: string, destinations: readonly string[]): string {
  const hash = createHash('sha256').update(sourceDigest)
  for (const destination of destinations) hash.update('\n').update(destination)
  // BullMQ keeps ':' for its own key structure; hex is safe everywhere.
  return hash.digest('hex')
}
