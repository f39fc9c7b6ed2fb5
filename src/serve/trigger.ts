import {createRequire} from 'node:module'

import type {Cron as CronClass} from 'croner'

import {ConfigError} from '../errors.js'
import {formatInterval} from './interval.js'

// Required when a cron expression is given: most runs have none and skip loading it at start-up.
const require = createRequire(import.meta.url)
const cron = (): typeof CronClass => (require('croner') as {Cron: typeof CronClass}).Cron

/** When a standing job runs in full. */
export type TriggerSpec =
  | {kind: 'once'}
  | {kind: 'interval'; ms: number}
  | {kind: 'cron'; pattern: string; timezone?: string}

export interface Trigger {
  stop(): void
  /** When the next tick is due, if any. */
  next(): Date | undefined
}

/**
 * A cron expression checked up front: five fields (minute precision) or six (seconds first), or a
 * nickname such as @hourly, in an IANA time zone. Throws a ConfigError naming `what`.
 */
export function cronTrigger(pattern: string, timezone: string | undefined, what = '--schedule'): TriggerSpec {
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', {timeZone: timezone})
    } catch {
      throw new ConfigError(`${what.startsWith('--') ? '--timezone' : 'timezone'} ${JSON.stringify(timezone)} is not an IANA time zone (e.g. Europe/Berlin, UTC)`)
    }
  }
  const fields = pattern.trim().split(/\s+/).length
  if (!pattern.trim().startsWith('@') && fields !== 5 && fields !== 6) {
    throw new ConfigError(`${what} ${JSON.stringify(pattern)} has ${fields} field${fields === 1 ? '' : 's'}; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)`)
  }
  try {
    const cronJob = new (cron())(pattern, {paused: true, mode: '5-or-6-parts', timezone})
    if (!cronJob.nextRun()) throw new Error('it never fires')
    cronJob.stop()
  } catch (error) {
    const reason = (error as Error).message.replace(/^Cron\w*:\s*/, '')
    throw new ConfigError(`${what} ${JSON.stringify(pattern)} is not a cron expression with 5 or 6 fields: ${reason}`)
  }
  return {kind: 'cron', pattern, ...(timezone ? {timezone} : {})}
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
      timer = setTimeout(() => {
        count++
        // A process paused (laptop asleep, debugger) owes one tick, not every one it slept through.
        while (due() <= Date.now() - spec.ms) count++
        arm()
        tick()
      }, Math.max(0, due() - Date.now()))
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
