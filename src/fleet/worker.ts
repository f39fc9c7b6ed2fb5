import {Worker, type Job} from 'bullmq'

import type {RegistryObserver} from '../registry/client.js'
import {sessionOptions, type EngineSettings} from '../engine/options.js'
import {RunTally} from '../engine/run.js'
import {EngineSession} from '../engine/session.js'
import type {JobResult, TransferReport} from '../report/summary.js'
import {checkReachable, connect, fleetKey, type QueueAddress} from './connection.js'
import {RedisFlights} from './flights.js'
import type {QueuedJob} from './job-data.js'
import {createFleetLimiter} from './limiter.js'

/**
 * A worker copies with the engine's own settings (one list of them: `EngineSettings`), less those
 * that need a run of their own (verify, dry run, prune, a lock) or that the fleet supplies in Redis
 * (the limiter, blob locks); `qps` is the whole fleet's budget.
 */
export interface WorkerOptions extends Omit<
  EngineSettings,
  'verify' | 'dryRun' | 'deep' | 'prune' | 'maxDeletes' | 'removeTag' | 'frozenLock' | 'limiter' | 'flights' | 'exclusive' | 'signal' | 'drain' | 'onResult'
> {
  queue: QueueAddress
  /** From the worker's own security file: the queue never carries any (`credentials`). */
  /**
   * How long a job stays claimed without its worker renewing the claim; a killed worker's jobs go
   * back to the queue (to another worker) after about this long. BullMQ's default is 30 s.
   */
  lockDurationMs?: number
  /** Aborted (SIGTERM): take no more jobs, finish the ones in flight, then resolve. */
  stop: AbortSignal
  /** Told of every registry request (--debug). */
  observer?: RegistryObserver
}

/** What a done job keeps in Redis: references, digests and counts. */
export interface JobReturn {
  results: {destination: string; status: JobResult['status']; digest?: string; destinationDigest?: string; bytes: number}[]
}

/**
 * A fleet worker: BullMQ hands it jobs (at most `routines` at once), the engine copies them with
 * its usual retry policy through a request budget and blob locks shared in Redis, and each job is
 * marked done or failed with its results. Resolves once `stop` is aborted and the jobs in flight
 * are finished; a worker killed outright leaves its jobs to BullMQ's stalled-job check.
 */
export async function runWorker(options: WorkerOptions): Promise<TransferReport> {
  const {queue, lockDurationMs, stop, ...settings} = options
  await checkReachable(queue)
  const queueConnection = connect(queue, {blocking: true})
  const keys = connect(queue, {blocking: true})
  const limiterConnection = settings.qps ? connect(queue, {blocking: true}) : undefined
  const limiter = limiterConnection ? await createFleetLimiter({redis: limiterConnection, id: fleetKey(queue, 'rate'), qps: settings.qps!}) : undefined
  // The fleet's request budget and blob locks, in Redis.
  const flights = new RedisFlights({redis: keys, prefix: fleetKey(queue, 'flight')})
  const session = new EngineSession(sessionOptions({...settings, limiter, flights}))
  const {logger, redactor, routines} = session
  const tally = new RunTally(session)
  const bytesKey = fleetKey(queue, 'bytes')

  const copyQueued = async (queued: Job<QueuedJob>): Promise<JobReturn> => {
    const done = await session.copy(queued.data)
    tally.finished(done)
    const bytes = done.reduce((sum, result) => sum + result.bytes, 0)
    if (bytes > 0) await keys.incrby(bytesKey, bytes)
    // A job cut short is not done: BullMQ keeps it to be run again.
    const failed = done.filter((result) => result.status === 'failed' || result.status === 'interrupted')
    if (failed.length > 0) {
      // Already redacted by the engine; redacted again because this text is stored in Redis.
      const message = redactor.redact(
        failed.map((result) => `${result.destination}: ${result.error?.code ?? 'FAILED'}: ${result.error?.message ?? ''}`).join('; '),
      )
      const error = new Error(message)
      // BullMQ stores the stack with the job; ferry's stack says nothing a user needs, and must not
      // carry anything a registry echoed.
      error.stack = `Error: ${message}`
      throw error
    }
    return {
      results: done.map((result) => ({
        destination: result.destination,
        status: result.status,
        ...(result.digest ? {digest: result.digest} : {}),
        ...(result.destinationDigest ? {destinationDigest: result.destinationDigest} : {}),
        bytes: result.bytes,
      })),
    }
  }

  const lockDuration = lockDurationMs ?? 30_000
  const worker = new Worker<QueuedJob, JobReturn>(queue.name, copyQueued, {
    connection: queueConnection,
    concurrency: routines,
    lockDuration,
    stalledInterval: lockDuration,
    // A job whose worker died twice is failed rather than passed round for ever.
    maxStalledCount: 2,
  })
  worker.on('error', (error) => logger.warn(`queue: ${redactor.redact(error.message)}`))

  if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, {once: true}))
  logger.info('stopping: taking no more jobs, finishing those in flight')
  // Waits for the jobs in flight.
  await worker.close()
  try {
    return tally.report()
  } finally {
    await session.close()
    await limiter?.stop()
    limiterConnection?.disconnect()
    keys.disconnect()
    queueConnection.disconnect()
  }
}
