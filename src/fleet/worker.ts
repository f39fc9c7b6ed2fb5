import {Worker, type Job} from 'bullmq'

import type {CredentialStore} from '../config/security.js'
import {destinationsOf, describeLocation, type TransferJob} from '../pipeline/job.js'
import {Redactor, redactingLogger, silentLogger} from '../report/logger.js'
import type {JobResult} from '../report/summary.js'
import {runTransfer, type EngineOptions, type TransferReport} from '../engine/run.js'
import {checkReachable, connect, fleetKey, type QueueAddress} from './connection.js'
import {RedisFlights} from './flights.js'
import type {QueuedJob} from './job-data.js'
import {createFleetLimiter} from './limiter.js'
import {QueueChannel} from './queue-channel.js'

/** The engine's settings a worker passes on as they are; `qps` is the whole fleet's budget. */
export interface WorkerOptions
  extends Pick<EngineOptions, 'routines' | 'retry' | 'qps' | 'chunkSize' | 'bytesPerSecond' | 'overwriteTags' | 'retryBaseMs' | 'logger'> {
  queue: QueueAddress
  /** From the worker's own security file: the queue never carries any. */
  credentials: CredentialStore
  /**
   * How long a job stays claimed without its worker renewing the claim; a killed worker's jobs go
   * back to the queue (to another worker) after about this long. BullMQ's default is 30 s.
   */
  lockDurationMs?: number
  /** Aborted (SIGTERM): take no more jobs, finish the ones in flight, then resolve. */
  stop: AbortSignal
}

/** What a done job keeps in Redis: references, digests and counts. */
export interface JobReturn {
  results: {destination: string; status: JobResult['status']; digest?: string; destinationDigest?: string; bytes: number}[]
}

interface Waiting {
  remaining: number
  results: JobResult[]
  resolve: (results: JobResult[]) => void
}

/**
 * A fleet worker: BullMQ hands it jobs (at most `routines` at once), the engine copies them with
 * its usual retry policy through a request budget and blob locks shared in Redis, and each job is
 * marked done or failed with its results. Resolves once `stop` is aborted and the jobs in flight
 * are finished; a worker killed outright leaves its jobs to BullMQ's stalled-job check.
 */
export async function runWorker(options: WorkerOptions): Promise<TransferReport> {
  const routines = Math.max(1, options.routines ?? 5)
  const redactor = new Redactor()
  for (const secret of options.credentials.secrets()) redactor.add(secret)
  const logger = redactingLogger(options.logger ?? silentLogger, redactor)
  await checkReachable(options.queue)
  const queueConnection = connect(options.queue, {blocking: true})
  const keys = connect(options.queue, {blocking: true})
  const limiterConnection = options.qps ? connect(options.queue, {blocking: true}) : undefined
  const limiter = limiterConnection ? await createFleetLimiter({redis: limiterConnection, id: fleetKey(options.queue, 'rate'), qps: options.qps!}) : undefined
  const flights = new RedisFlights({redis: keys, prefix: fleetKey(options.queue, 'flight')})
  const channel = new QueueChannel<TransferJob>(routines)
  const waiting = new Map<string, Waiting>()
  const resultKey = (source: string, destination: string) => `${source}\u0000${destination}`
  const bytesKey = fleetKey(options.queue, 'bytes')

  const engine = runTransfer({
    rules: [],
    credentials: options.credentials,
    routines,
    retry: options.retry,
    chunkSize: options.chunkSize,
    bytesPerSecond: options.bytesPerSecond,
    overwriteTags: options.overwriteTags,
    retryBaseMs: options.retryBaseMs,
    limiter,
    flights,
    channel,
    logger,
    onResult: (result) => {
      const key = resultKey(result.source, result.destination)
      const entry = waiting.get(key)
      if (!entry) return
      waiting.delete(key)
      entry.results.push(result)
      if (--entry.remaining === 0) entry.resolve(entry.results)
    },
  })

  const copyQueued = async (queued: Job<QueuedJob>): Promise<JobReturn> => {
    // The engine narrows a retried job's destinations in place; BullMQ's copy stays as queued.
    const job: TransferJob = structuredClone(queued.data)
    const source = describeLocation(job.source)
    const destinations = destinationsOf(job)
    const results = new Promise<JobResult[]>((resolve) => {
      const entry: Waiting = {remaining: destinations.length, results: [], resolve}
      for (const destination of destinations) waiting.set(resultKey(source, describeLocation(destination)), entry)
    })
    await channel.push(job)
    const done = await results
    const bytes = done.reduce((sum, result) => sum + result.bytes, 0)
    if (bytes > 0) await keys.incrby(bytesKey, bytes)
    const failed = done.filter((result) => result.status === 'failed')
    if (failed.length > 0) {
      // Already redacted by the engine; redacted again because this text is stored in Redis.
      const message = redactor.redact(failed.map((result) => `${result.destination}: ${result.error?.code ?? 'FAILED'}: ${result.error?.message ?? ''}`).join('; '))
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

  const lockDuration = options.lockDurationMs ?? 30_000
  const worker = new Worker<QueuedJob, JobReturn>(options.queue.name, copyQueued, {
    connection: queueConnection,
    concurrency: routines,
    lockDuration,
    stalledInterval: lockDuration,
    // A job whose worker died twice is failed rather than passed round for ever.
    maxStalledCount: 2,
  })
  worker.on('error', (error) => logger.warn(`queue: ${redactor.redact(error.message)}`))

  if (!options.stop.aborted) await new Promise((resolve) => options.stop.addEventListener('abort', resolve, {once: true}))
  logger.info('stopping: taking no more jobs, finishing those in flight')
  // Waits for the jobs in flight (their processors wait for the engine's results).
  await worker.close()
  channel.end()
  try {
    return await engine
  } finally {
    await limiter?.stop()
    limiterConnection?.disconnect()
    keys.disconnect()
    queueConnection.disconnect()
  }
}
