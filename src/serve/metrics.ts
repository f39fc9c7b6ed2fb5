/**
 * /metrics: what the standing mirror has done, in Prometheus text format. Its own prom-client
 * Registry (never the global one, so a library caller's metrics are not mixed in); every name
 * starts with `ferry_`. The `sync` label is the standing job's name (not `job`, which Prometheus
 * itself sets on every scraped series).
 */
import {Counter, Gauge, Registry} from 'prom-client'

import type {RegistryObserver} from '../registry/client.js'
import type {PullQuota} from '../registry/pull-quota.js'
import type {JobResult} from '../report/summary.js'

export class SyncMetrics {
  readonly registry = new Registry()
  private readonly jobs: Counter<'sync' | 'status'>
  private readonly bytes: Counter<'sync'>
  private readonly blobs: Counter<'sync' | 'outcome'>
  private readonly requests: Counter<'registry' | 'method' | 'status'>
  private readonly rateLimitWait: Counter<'registry'>
  private readonly pullsRemaining: Gauge<'registry'>
  private readonly pullLimit: Gauge<'registry'>
  private readonly runs: Counter<'sync' | 'trigger' | 'outcome'>
  private readonly ticksSkipped: Counter<'sync'>
  private readonly lastSuccess: Gauge<'sync'>
  private readonly runDuration: Gauge<'sync'>
  private readonly events: Counter<'endpoint' | 'outcome'>
  private readonly eventRequests: Counter<'endpoint' | 'code'>

  constructor() {
    const registers = [this.registry]
    this.jobs = new Counter({
      name: 'ferry_jobs_total',
      help: 'Image copy jobs finished, by status (copied, skipped, failed).',
      labelNames: ['sync', 'status'],
      registers,
    })
    this.bytes = new Counter({name: 'ferry_copied_bytes_total', help: 'Blob bytes uploaded to destinations.', labelNames: ['sync'], registers})
    this.blobs = new Counter({
      name: 'ferry_blobs_total',
      help: 'Blobs by outcome: uploaded, mounted from another repository, or skipped because the destination had them.',
      labelNames: ['sync', 'outcome'],
      registers,
    })
    this.requests = new Counter({
      name: 'ferry_registry_requests_total',
      help: 'Registry requests by registry, method and response status (0: no response).',
      labelNames: ['registry', 'method', 'status'],
      registers,
    })
    this.rateLimitWait = new Counter({
      name: 'ferry_rate_limit_wait_seconds_total',
      help: 'Time requests waited for the rate limit (--qps pacing and 429 pauses), by registry.',
      labelNames: ['registry'],
      registers,
    })
    this.pullsRemaining = new Gauge({
      name: 'ferry_registry_pulls_remaining',
      help: "Manifest pulls left under a registry's pull limit, as its last answer said (ratelimit-remaining), by registry.",
      labelNames: ['registry'],
      registers,
    })
    this.pullLimit = new Gauge({
      name: 'ferry_registry_pull_limit',
      help: "A registry's pull limit per window, as it states it (ratelimit-limit), by registry.",
      labelNames: ['registry'],
      registers,
    })
    this.runs = new Counter({
      name: 'ferry_runs_total',
      help: 'Runs finished, by trigger (schedule, event) and outcome (complete, incomplete).',
      labelNames: ['sync', 'trigger', 'outcome'],
      registers,
    })
    this.ticksSkipped = new Counter({
      name: 'ferry_ticks_skipped_total',
      help: 'Schedule ticks skipped because the previous run was still busy.',
      labelNames: ['sync'],
      registers,
    })
    this.lastSuccess = new Gauge({
      name: 'ferry_last_success_timestamp_seconds',
      help: 'Unix time at which the last complete scheduled run finished.',
      labelNames: ['sync'],
      registers,
    })
    this.runDuration = new Gauge({name: 'ferry_run_duration_seconds', help: 'Duration of the last scheduled run.', labelNames: ['sync'], registers})
    this.events = new Counter({
      name: 'ferry_events_received_total',
      help: 'Registry events received, by endpoint and outcome (matched, unmatched, ignored, duplicate, refused: an invalid repository or tag).',
      labelNames: ['endpoint', 'outcome'],
      registers,
    })
    this.eventRequests = new Counter({
      name: 'ferry_event_requests_total',
      help: 'Event deliveries by endpoint and HTTP status answered.',
      labelNames: ['endpoint', 'code'],
      registers,
    })
  }

  /** Declares a job's series at zero, so a dashboard sees it before its first run. */
  declare(sync: string): void {
    for (const status of ['copied', 'skipped', 'failed']) this.jobs.inc({sync, status}, 0)
    for (const outcome of ['uploaded', 'mounted', 'skipped']) this.blobs.inc({sync, outcome}, 0)
    this.bytes.inc({sync}, 0)
    this.ticksSkipped.inc({sync}, 0)
  }

  jobFinished(sync: string, result: JobResult): void {
    this.jobs.inc({sync, status: result.status})
    this.bytes.inc({sync}, result.bytes)
    this.blobs.inc({sync, outcome: 'uploaded'}, result.blobs.uploaded)
    this.blobs.inc({sync, outcome: 'mounted'}, result.blobs.mounted)
    this.blobs.inc({sync, outcome: 'skipped'}, result.blobs.existing)
  }

  runFinished(sync: string, trigger: 'schedule' | 'event', complete: boolean, durationMs: number, finishedAt: Date): void {
    this.runs.inc({sync, trigger, outcome: complete ? 'complete' : 'incomplete'})
    if (trigger !== 'schedule') return
    this.runDuration.set({sync}, durationMs / 1000)
    if (complete) this.lastSuccess.set({sync}, Math.floor(finishedAt.getTime() / 1000))
  }

  tickSkipped(sync: string): void {
    this.ticksSkipped.inc({sync})
  }

  eventsReceived(endpoint: string, outcome: 'matched' | 'unmatched' | 'ignored' | 'duplicate' | 'refused', count = 1): void {
    if (count > 0) this.events.inc({endpoint, outcome}, count)
  }

  eventRequest(endpoint: string, code: number): void {
    this.eventRequests.inc({endpoint, code: String(code)})
  }

  /** What a registry's answers said of its pull limit. */
  pullQuota(quota: PullQuota): void {
    this.pullsRemaining.set({registry: quota.registry}, quota.remaining)
    if (quota.limit !== undefined) this.pullLimit.set({registry: quota.registry}, quota.limit)
  }

  /** The engine's hook into the registry clients. */
  readonly observer: RegistryObserver = {
    onRequest: (registry, method, status) => this.requests.inc({registry, method, status: String(status)}),
    onRateLimitWait: (registry, ms) => this.rateLimitWait.inc({registry}, ms / 1000),
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
