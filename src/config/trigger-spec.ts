/**
 * When a standing job runs, as flags or schedule.yaml give it: checked here, where the input is
 * read; serve/trigger.ts starts the timers.
 */
import {createRequire} from 'node:module'

import type {Cron as CronClass} from 'croner'

import {ConfigError} from '../errors.js'

// Required when a cron expression is given: most runs have none and skip loading it at start-up.
const require = createRequire(import.meta.url)
const cron = (): typeof CronClass => (require('croner') as {Cron: typeof CronClass}).Cron

/** When a standing job runs in full. */
export type TriggerSpec = {kind: 'once'} | {kind: 'interval'; ms: number} | {kind: 'cron'; pattern: string; timezone?: string}

/**
 * A cron expression checked up front: five fields (minute precision) or six (seconds first), or a
 * nickname such as @hourly, in an IANA time zone. Throws a ConfigError naming `what`.
 */
export function cronTrigger(pattern: string, timezone: string | undefined, what = '--schedule'): TriggerSpec {
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', {timeZone: timezone})
    } catch {
      throw new ConfigError(
        `${what.startsWith('--') ? '--timezone' : 'timezone'} ${JSON.stringify(timezone)} is not an IANA time zone (e.g. Europe/Berlin, UTC)`,
      )
    }
  }
  const fields = pattern.trim().split(/\s+/).length
  if (!pattern.trim().startsWith('@') && fields !== 5 && fields !== 6) {
    throw new ConfigError(
      `${what} ${JSON.stringify(pattern)} has ${fields} field${fields === 1 ? '' : 's'}; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)`,
    )
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
