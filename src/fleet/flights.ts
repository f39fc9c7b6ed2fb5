import {randomUUID} from 'node:crypto'

import type {Redis} from 'ioredis'

import {KeyedLock} from '../keyed-lock.js'
import type {FlightLock} from '../transfer/blob-flight.js'

/** Deletes or extends the lock only while this holder still owns it (it may have expired and moved on). */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`

export interface RedisFlightsOptions {
  redis: Redis
  /** Prefix of the lock keys (per queue). */
  prefix: string
  /** A holder that dies lets go after this long; renewed at a third of it while the task runs. */
  ttlMs?: number
  /** How often a waiter asks again. */
  pollMs?: number
}

/**
 * One upload per (destination registry, digest) across a fleet: the same shape as BlobFlights,
 * with a short Redis lock (SET NX PX, owner token, renewed while the upload runs) behind the
 * in-process one, so a worker's own jobs queue locally and only one of them asks Redis. When a
 * holder dies its lock expires, and the next holder's task starts with a HEAD as always.
 */
export class RedisFlights implements FlightLock {
  private readonly local = new KeyedLock()
  private readonly ttlMs: number
  private readonly pollMs: number

  constructor(private readonly options: RedisFlightsOptions) {
    this.ttlMs = options.ttlMs ?? 10_000
    this.pollMs = options.pollMs ?? 50
  }

  exclusive<T>(registry: string, digest: string, task: () => Promise<T>): Promise<T> {
    const key = `${registry}\u0000${digest}`
    return this.local.with(key, async () => {
      const redisKey = `${this.options.prefix}:${registry}:${digest.replace(/\u0000/g, ':')}`
      const token = randomUUID()
      while ((await this.options.redis.set(redisKey, token, 'PX', this.ttlMs, 'NX')) !== 'OK') {
        await new Promise((resolve) => setTimeout(resolve, this.pollMs))
      }
      const renew = setInterval(
        () => {
          this.options.redis.eval(RENEW, 1, redisKey, token, String(this.ttlMs)).catch(() => undefined)
        },
        Math.max(100, Math.floor(this.ttlMs / 3)),
      )
      try {
        return await task()
      } finally {
        clearInterval(renew)
        await this.options.redis.eval(RELEASE, 1, redisKey, token).catch(() => undefined)
      }
    })
  }
}
