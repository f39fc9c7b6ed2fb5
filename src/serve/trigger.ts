import {createRequire} from 'node:module'

import type {Cron as CronClass} from 'croner'

import {formatInterval} from '../config/interval.js'
import type {TriggerSpec} from '../config/trigger-spec.js'

// Required when a cron expression is given: most runs have none and skip loading it at start-up.
const require = createRequire(import.meta.url)
const cron = (): typeof CronClass => (require('croner') as {Cron: typeof CronClass}).Cron

export interface Trigger {
  stop(): void
  /** When the next tick is due, if any. */
  next(): Date | undefined
}

/** Words for logs. Pure. */
export function describeTrigger(spec: TriggerSpec): string {
  if (spec.kind === 'once') return 'once'
  if (spec.kind === 'interval') return `every ${formatInterval(spec.ms)}`
  return `on "${spec.pattern}"${spec.timezone ? ` (${spec.timezone})` : ''}`
}

/**
 * Calls `tick` on the spec's schedule: an interval ticks at once and then every interval after
 * the first tick (a fixed cadence, so a slow run shows up as skipped ticks rather than drift); a
 * cron expression at its times; `once` ticks once. The caller decides what an overlapping tick does.
 */
export function startTrigger(spec: TriggerSpec, tick: () => void): Trigger {
  if (spec.kind === 'once') {
    const timer = setTimeout(tick, 0)
    return {stop: () => clearTimeout(timer), next: () => undefined}
  }
  if (spec.kind === 'interval') {
    const started = Date.now()
    let count = 0
    let timer: NodeJS.Timeout | undefined
    let stopped = false
    const due = () => started + count * spec.ms
    const arm = () => {
      if (stopped) return
      timer = setTimeout(
        () => {
          count++
          // A process paused (laptop asleep, debugger) owes one tick, not every one it slept through.
          while (due() <= Date.now() - spec.ms) count++
          arm()
          tick()
        },
        Math.max(0, due() - Date.now()),
      )
    }
    arm()
    return {
      stop: () => {
        stopped = true
        clearTimeout(timer)
      },
      next: () => (stopped ? undefined : new Date(due())),
    }
  }
  const cronJob = new (cron())(spec.pattern, {mode: '5-or-6-parts', timezone: spec.timezone}, () => tick())
  return {stop: () => cronJob.stop(), next: () => cronJob.nextRun() ?? undefined}
}
