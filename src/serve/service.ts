/**
 * The long-running mode: standing jobs on their triggers, registry events, the state file and
 * metrics in one process, and a graceful stop. Runs of one job never overlap: a tick that comes
 * while the job is busy is skipped and logged.
 */
import type {RegistryObserver} from '../registry/client.js'
import {everyObserver} from '../registry/observers.js'
import {describeError} from '../errors.js'
import {KeyedLock} from '../keyed-lock.js'
import {destinationsOf} from '../pipeline/job.js'
import {formatReference} from '../reference.js'
import type {Logger} from '../report/logger.js'
import {formatReport, type JobResult} from '../report/summary.js'
import type {TransferReport} from '../report/summary.js'
import {startListener, type EventEndpoint, type Listener} from './listener.js'
import {SyncMetrics} from './metrics.js'
import {parseDistributionEnvelope, parseHarborPayload, SeenIds, type PushEvent} from './push-events.js'
import {describeChanges, sourceChanges, syncedAfter} from './source-changes.js'
import {StateStore} from './state-file.js'
import {PullQuotas} from '../registry/pull-quota.js'
import type {RunHooks, SyncJob} from './sync-job.js'
import {TagQueue} from './tag-queue.js'
import {describeTrigger, startTrigger, type Trigger} from './trigger.js'

export interface ServiceOptions {
  jobs: SyncJob[]
  stateFile?: string
  listen?: {host: string; port: number}
  eventToken?: string
  /** How long copies in flight may go on after a stop was asked for. */
  gracePeriodMs: number
  logger: Logger
  /** Quiet time before a pushed tag is copied (a burst of pushes of one tag is one copy). */
  debounceMs?: number
  /** Told of every registry request besides the metrics (--debug). */
  observer?: RegistryObserver
}

export interface ServiceOutcome {
  /** Every job's last full run copied everything it had to, and nothing was abandoned. */
  complete: boolean
  /** Each job's last full run. */
  reports: Map<string, TransferReport>
}

export interface Service {
  /** Where the listener is bound, when there is one. */
  address?: string
  metrics: SyncMetrics
  /** Resolves when the service has stopped (or, with nothing to wait for, every job ran once). */
  done: Promise<ServiceOutcome>
  /** Graceful stop: no new runs or copies, copies in flight get the grace period. A second call abandons them at once. */
  stop(): void
}

interface JobSlot {
  job: SyncJob
  trigger?: Trigger
  running?: Promise<void>
  runs: number
  lastComplete?: boolean
  lastReport?: TransferReport
}

export async function startService(options: ServiceOptions): Promise<Service> {
  const {logger} = options
  const state = await StateStore.open(options.stateFile)
  const metrics = new SyncMetrics()
  const abort = new AbortController()
  const drain = new AbortController()
  const seen = new SeenIds()
  const tags = new TagQueue(options.debounceMs ?? 250)
  // One copy per destination tag at a time across every run and push event of the process.
  const locks = new KeyedLock()
  const slots = options.jobs.map((job): JobSlot => ({job, runs: 0}))
  // A standing mirror waits for a spent pull limit's window rather than failing its jobs.
  const pullQuotas = new PullQuotas({whenSpent: 'wait', onChange: (quota) => metrics.pullQuota(quota)})
  let stopping = false
  let abandoned = false
  let finish!: (outcome: ServiceOutcome) => void
  const done = new Promise<ServiceOutcome>((resolve) => (finish = resolve))

  const hooksFor = (slot: JobSlot, onResult: (result: JobResult) => void): RunHooks => ({
    signal: abort.signal,
    drain: drain.signal,
    observer: options.observer ? everyObserver(metrics.observer, options.observer) : metrics.observer,
    pullQuotas,
    logger: prefixed(logger, slot.job.name),
    exclusive: async (job) => {
      // Every destination of a several-destination job, in one order, so two jobs cannot deadlock.
      const keys = [...new Set(destinationsOf(job).map(formatReference))].sort()
      const releases: (() => void)[] = []
      for (const key of keys) releases.push(await locks.acquire(key))
      return () => releases.forEach((release) => release())
    },
    onResult: (result) => {
      metrics.jobFinished(slot.job.name, result)
      onResult(result)
    },
  })

  const runFull = async (slot: JobSlot) => {
    const name = slot.job.name
    const number = ++slot.runs
    const log = prefixed(logger, name)
    const started = new Date()
    log.info(`run ${number} started`)
    const results: JobResult[] = []
    let report: TransferReport | undefined
    try {
      report = await slot.job.runAll(hooksFor(slot, (result) => results.push(result)))
    } catch (error) {
      log.warn(`run ${number} failed: ${describeError(error)}`)
    }
    const finished = new Date()
    // A stop that lands after the run's last job finished leaves nothing undone: that run is complete.
    const interrupted = report?.interrupted ?? (drain.signal.aborted || abort.signal.aborted)
    const complete = !!report && !interrupted && report.summary.failed === 0 && report.summary.generateFailed === 0
    if (report) {
      for (const line of formatReport(report.summary, report.results, report.generateFailures, report.omittedTags, report)) log.result(line)
      slot.lastReport = report
    }
    const job = state.job(name)
    const listedCompletely = !!report && !interrupted && report.generateFailures.length === 0
    const changes = sourceChanges(job.tags, results, listedCompletely)
    const described = describeChanges(changes)
    if (described) log.result(described)
    job.tags = syncedAfter(job.tags, results, changes, finished)
    job.lastRun = {startedAt: started.toISOString(), finishedAt: finished.toISOString(), complete}
    if (complete) job.lastSuccessAt = finished.toISOString()
    void state.save()
    slot.lastComplete = complete
    metrics.runFinished(name, 'schedule', complete, finished.getTime() - started.getTime(), finished)
    log.info(
      `run ${number} ${complete ? 'complete' : interrupted ? 'interrupted' : 'incomplete'} in ${((finished.getTime() - started.getTime()) / 1000).toFixed(1)}s`,
    )
  }

  const tick = (slot: JobSlot) => {
    if (stopping) return
    if (slot.running) {
      metrics.tickSkipped(slot.job.name)
      prefixed(logger, slot.job.name).warn(`tick skipped: run ${slot.runs} is still busy`)
      return
    }
    slot.running = runFull(slot).finally(() => {
      slot.running = undefined
      if (!listener && slots.every((other) => other.job.trigger.kind === 'once')) maybeFinishOnce()
    })
  }

  const runPush = async (slot: JobSlot, push: PushEvent) => {
    const log = prefixed(logger, slot.job.name)
    // The job's rules may have been reloaded since the event was matched: match again now.
    const rules = slot.job.rulesForPush(push)
    if (rules.length === 0 || stopping) return
    log.info(`push of ${push.repository}:${push.tag}: copying it by ${rules.length} rule${rules.length === 1 ? '' : 's'}`)
    const results: JobResult[] = []
    const started = Date.now()
    let report: TransferReport | undefined
    try {
      report = await slot.job.runRules(
        rules,
        hooksFor(slot, (result) => results.push(result)),
      )
    } catch (error) {
      log.warn(`push of ${push.repository}:${push.tag}: ${describeError(error)}`)
    }
    const complete = !!report && !drain.signal.aborted && report.summary.failed === 0 && report.summary.generateFailed === 0
    for (const result of results) {
      if (result.status === 'failed') log.warn(`push of ${push.repository}:${push.tag}: ${result.destination}: ${result.error?.message ?? 'failed'}`)
    }
    const job = state.job(slot.job.name)
    job.tags = syncedAfter(job.tags, results, {deletedAtSource: []}, new Date())
    void state.save()
    metrics.runFinished(slot.job.name, 'event', complete, Date.now() - started, new Date())
  }

  const onEvents = (endpoint: EventEndpoint, body: unknown) => {
    const parsed = endpoint === 'harbor' ? parseHarborPayload(body) : parseDistributionEnvelope(body)
    metrics.eventsReceived(endpoint, 'ignored', parsed.ignored)
    metrics.eventsReceived(endpoint, 'refused', parsed.refused.length)
    for (const line of parsed.refused) logger.warn(`event on /events/${endpoint}: ${line}`)
    for (const push of parsed.pushes) {
      if (!seen.first(push.id)) {
        metrics.eventsReceived(endpoint, 'duplicate')
        continue
      }
      let matched = false
      for (const slot of slots) {
        if (slot.job.rulesForPush(push).length === 0) continue
        matched = true
        tags.request(`${slot.job.name}\u0000${push.repository}:${push.tag}`, () => runPush(slot, push))
      }
      metrics.eventsReceived(endpoint, matched ? 'matched' : 'unmatched')
      if (!matched) logger.info(`event: push of ${push.hosts[0] ?? '?'}/${push.repository}:${push.tag} matches no rule`)
    }
  }

  let listener: Listener | undefined
  if (options.listen) {
    listener = await startListener({
      ...options.listen,
      token: options.eventToken || undefined,
      onEvents: (endpoint, body) => {
        if (stopping) return
        try {
          onEvents(endpoint, body)
        } catch (error) {
          // Already acknowledged; a payload ferry cannot handle must not take the service down.
          logger.warn(`event on /events/${endpoint}: ${describeError(error)}`)
        }
      },
      onDelivery: (endpoint, status) => metrics.eventRequest(endpoint, status),
      healthy: () => !stopping,
      metrics: async () => ({contentType: metrics.contentType, text: await metrics.text()}),
    })
    logger.info(`listening on http://${listener.address} (POST /events/registry, POST /events/harbor, GET /metrics, GET /healthz)`)
    // Said once, as a warning even with --quiet: an open event endpoint lets anyone who reaches the
    // port make ferry copy whatever the rules allow, as often as they like.
    if (!options.eventToken) {
      logger.warn(
        `warning: the listener on ${listener.address} accepts events from anyone who can reach it; set --eventToken (or FERRY_EVENT_TOKEN) and the same token in the registry's notification settings`,
      )
    }
  }

  const outcome = (): ServiceOutcome => ({
    complete: !abandoned && slots.every((slot) => slot.lastComplete === true),
    reports: new Map(slots.filter((slot) => slot.lastReport).map((slot) => [slot.job.name, slot.lastReport!])),
  })

  const shutdown = async () => {
    for (const slot of slots) slot.trigger?.stop()
    drain.abort()
    const grace = setTimeout(() => {
      if (slots.some((slot) => slot.running) || tags.active > 0) {
        abandoned = true
        logger.warn(`grace period of ${options.gracePeriodMs / 1000}s over: abandoning the copies still in flight (no manifest of theirs is pushed)`)
      }
      abort.abort()
    }, options.gracePeriodMs)
    await Promise.all([...slots.map((slot) => slot.running), tags.close()])
    clearTimeout(grace)
    await listener?.close()
    try {
      await state.flush()
    } catch (error) {
      logger.warn(`state file ${options.stateFile}: could not be written: ${describeError(error)}`)
      abandoned = true
    }
    await Promise.all(slots.map((slot) => slot.job.close()))
    finish(outcome())
  }

  const maybeFinishOnce = () => {
    if (!stopping && slots.every((slot) => slot.runs > 0 && !slot.running)) {
      stopping = true
      void shutdown()
    }
  }

  for (const slot of slots) {
    metrics.declare(slot.job.name)
    slot.trigger = startTrigger(slot.job.trigger, () => tick(slot))
    const next = slot.trigger.next()
    logger.info(
      `[${slot.job.name}] runs ${describeTrigger(slot.job.trigger)}${next && slot.job.trigger.kind === 'cron' ? `; next at ${next.toISOString()}` : ''}`,
    )
  }

  return {
    address: listener?.address,
    metrics,
    done,
    stop() {
      if (stopping) {
        if (!abort.signal.aborted) {
          abandoned = true
          logger.warn('second stop signal: abandoning the copies in flight now')
          abort.abort()
        }
        return
      }
      stopping = true
      logger.warn(`stopping: no new copies; copies in flight get ${options.gracePeriodMs / 1000}s to finish`)
      void shutdown()
    },
  }
}

function prefixed(logger: Logger, name: string): Logger {
  const tag = (line: string) => `[${name}] ${line}`
  return {info: (line) => logger.info(tag(line)), warn: (line) => logger.warn(tag(line)), result: (line) => logger.result(tag(line))}
}
