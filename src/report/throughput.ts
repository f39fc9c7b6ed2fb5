/** Bytes moved per second during one stretch of the run. */
export interface ThroughputPoint {
  /** Start of the stretch, in milliseconds after the run started. */
  offsetMs: number
  bytesPerSecond: number
}

export interface ThroughputSeries {
  bucketMs: number
  points: ThroughputPoint[]
}

interface TimedBytes {
  startedAt: string | null | undefined
  finishedAt: string | null | undefined
  bytes: number
}

/**
 * Throughput over time from per-job start/end times and bytes. A job's bytes are spread evenly
 * over its span (blobs stream through the whole job, and finer timing is not recorded), then
 * summed into equal buckets covering the run. Pure.
 */
export function throughputSeries(jobs: readonly TimedBytes[], run: {startMs: number; endMs: number}, buckets = 60, minBucketMs = 100): ThroughputSeries {
  const spanMs = Math.max(1, run.endMs - run.startMs)
  const count = Math.max(1, Math.min(buckets, Math.ceil(spanMs / minBucketMs)))
  const bucketMs = Math.max(minBucketMs, Math.ceil(spanMs / count))
  const sums = new Array<number>(count).fill(0)
  for (const job of jobs) {
    if (job.bytes <= 0 || !job.startedAt || !job.finishedAt) continue
    const start = clamp(Date.parse(job.startedAt) - run.startMs, 0, spanMs)
    const end = clamp(Date.parse(job.finishedAt) - run.startMs, start, spanMs)
    if (Number.isNaN(start) || Number.isNaN(end)) continue
    if (end === start) {
      sums[Math.min(count - 1, Math.floor(start / bucketMs))]! += job.bytes
      continue
    }
    const perMs = job.bytes / (end - start)
    for (let index = Math.floor(start / bucketMs); index < count && index * bucketMs < end; index++) {
      const overlap = Math.min(end, (index + 1) * bucketMs) - Math.max(start, index * bucketMs)
      if (overlap > 0) sums[index]! += overlap * perMs
    }
  }
  return {bucketMs, points: sums.map((bytes, index) => ({offsetMs: index * bucketMs, bytesPerSecond: bytes / (bucketMs / 1000)}))}
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value))
}
