/** The report's figures per registry and per repository, and its failures by reason. Pure. */
import {registryOf, repositoryOf} from './reference-parts.js'
import type {ReportJob} from './run-report.js'

/** What the jobs of one registry or repository did. */
export interface GroupFigures {
  name: string
  jobs: number
  failed: number
  /** Blob bytes uploaded, mounted from another repository, and found already present. */
  uploaded: number
  mounted: number
  existing: number
  /** Time at least one of its jobs was running (overlapping jobs count once). */
  busyMs: number
  /** Uploaded bytes per second of busy time; 0 without timed jobs. */
  bytesPerSecond: number
}

/** Per registry: every job that read from it or wrote to it. */
export function registryFigures(jobs: readonly ReportJob[]): GroupFigures[] {
  return figures(jobs, (job) => [...new Set([registryOf(job.source), registryOf(job.destination)])])
}

/** Per destination repository (registry/repository). */
export function repositoryFigures(jobs: readonly ReportJob[]): GroupFigures[] {
  return figures(jobs, (job) => [`${registryOf(job.destination)}/${repositoryOf(job.destination)}`])
}

function figures(jobs: readonly ReportJob[], keysOf: (job: ReportJob) => string[]): GroupFigures[] {
  const groups = new Map<string, ReportJob[]>()
  for (const job of jobs) for (const key of keysOf(job)) groups.set(key, [...(groups.get(key) ?? []), job])
  return [...groups]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, members]) => {
      const sum = (kind: keyof ReportJob['blobBytes']) => members.reduce((total, job) => total + job.blobBytes[kind], 0)
      const busyMs = busyTime(members)
      const uploaded = sum('uploaded')
      return {
        name,
        jobs: members.length,
        failed: members.filter((job) => job.status === 'failed').length,
        uploaded,
        mounted: sum('mounted'),
        existing: sum('existing'),
        busyMs,
        bytesPerSecond: busyMs > 0 ? Math.round((uploaded * 1000) / busyMs) : 0,
      }
    })
}

/** The length of the union of the jobs' spans. */
export function busyTime(jobs: readonly Pick<ReportJob, 'startedAt' | 'finishedAt'>[]): number {
  const spans = jobs
    .filter((job) => job.startedAt && job.finishedAt)
    .map((job) => [Date.parse(job.startedAt!), Date.parse(job.finishedAt!)] as const)
    .sort((a, b) => a[0] - b[0])
  let total = 0
  let end = -Infinity
  for (const [start, finish] of spans) {
    if (finish <= end) continue
    total += finish - Math.max(start, end)
    end = finish
  }
  return total
}

/** Failed jobs grouped by their error code, the largest group first. */
export function failuresByReason(jobs: readonly ReportJob[]): {code: string; jobs: ReportJob[]}[] {
  const groups = new Map<string, ReportJob[]>()
  for (const job of jobs) {
    if (job.status !== 'failed') continue
    const code = job.error?.code ?? 'UNKNOWN'
    groups.set(code, [...(groups.get(code) ?? []), job])
  }
  return [...groups].map(([code, members]) => ({code, jobs: members})).sort((a, b) => b.jobs.length - a.jobs.length || a.code.localeCompare(b.code))
}
