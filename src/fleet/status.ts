import {Queue} from 'bullmq'

import {checkReachable, connect, fleetKey, type QueueAddress} from './connection.js'
import type {QueuedJob} from './job-data.js'
import {destinationsOf} from '../pipeline/job.js'
import {formatReference} from '../reference.js'

export interface QueueStatus {
  /** Waiting to start: waiting, delayed (retrying) and prioritized jobs. */
  waiting: number
  active: number
  /** Done, earlier enqueues included (done jobs are kept: they make re-enqueues no-ops). */
  done: number
  failed: number
  /** Blob bytes the workers uploaded, all jobs together. */
  bytes: number
  /** The failed jobs (the first `failedLimit`), with the error each ended with. */
  failures: {id: string; job: string; error: string}[]
}

/** How far the queue is. */
export async function queueStatus(address: QueueAddress, options: {failedLimit?: number} = {}): Promise<QueueStatus> {
  await checkReachable(address)
  const connection = connect(address)
  const queue = new Queue<QueuedJob>(address.name, {connection})
  try {
    const counts = await queue.getJobCounts('wait', 'delayed', 'prioritized', 'waiting-children', 'active', 'completed', 'failed')
    const failedJobs = counts.failed! > 0 ? await queue.getFailed(0, (options.failedLimit ?? 100) - 1) : []
    const bytes = Number((await connection.get(fleetKey(address, 'bytes'))) ?? 0)
    return {
      waiting: counts.wait! + counts.delayed! + counts.prioritized! + counts['waiting-children']!,
      active: counts.active!,
      done: counts.completed!,
      failed: counts.failed!,
      bytes,
      failures: failedJobs.map((job) => ({
        id: job.id ?? '',
        job: `${formatReference(job.data.source)} → ${destinationsOf(job.data).map(formatReference).join(', ')}`,
        error: job.failedReason ?? '',
      })),
    }
  } finally {
    await queue.close()
    connection.disconnect()
  }
}

/** Puts every failed job back to waiting; resolves with how many there were. */
export async function retryFailed(address: QueueAddress): Promise<number> {
  await checkReachable(address)
  const connection = connect(address)
  const queue = new Queue<QueuedJob>(address.name, {connection})
  try {
    const failed = await queue.getJobCountByTypes('failed')
    if (failed > 0) await queue.retryJobs({state: 'failed', count: 1000})
    return failed
  } finally {
    await queue.close()
    connection.disconnect()
  }
}

/** Polls until nothing is waiting or active. */
export async function waitForQueue(address: QueueAddress, options: {intervalMs?: number; signal?: AbortSignal} = {}): Promise<QueueStatus> {
  for (;;) {
    const status = await queueStatus(address)
    if (status.waiting === 0 && status.active === 0) return status
    if (options.signal?.aborted) return status
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000))
  }
}
