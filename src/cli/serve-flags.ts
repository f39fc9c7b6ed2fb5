import {Flags} from '@oclif/core'

import {parseInterval} from '../config/interval.js'
import {cronTrigger, type TriggerSpec} from '../config/trigger-spec.js'
import {parseListenAddress} from '../serve/listener.js'

/** --help heading of the long-running mode's flags. */
export const STANDING = 'STANDING MIRROR (scheduled and event-driven sync)'

/** What `ferry schedule` shares with `transfer`/`migrate` in the long-running mode. */
export const serviceFlags = {
  'state-file': Flags.string({
    aliases: ['stateFile'],
    description:
      'JSON file remembering, per job, the source digest last synced and when; each run reports tags new, updated or deleted at the source since the last one',
    helpGroup: STANDING,
  }),
  'grace-period': Flags.string({
    aliases: ['gracePeriod'],
    description: 'on SIGINT/SIGTERM no new copy starts; copies in flight get this long to finish (then they are abandoned, no manifest pushed)',
    default: '30s',
    helpGroup: STANDING,
  }),
  listen: Flags.string({
    description: 'serve HOST:PORT: POST /events/registry (Distribution notifications), POST /events/harbor (Harbor PUSH_ARTIFACT), GET /metrics, GET /healthz',
    helpGroup: STANDING,
  }),
  'event-token': Flags.string({
    aliases: ['eventToken'],
    description: 'shared secret the event endpoints require (Authorization: Bearer TOKEN, or Harbor auth header TOKEN)',
    env: 'FERRY_EVENT_TOKEN',
    helpGroup: STANDING,
  }),
}

/** Flags that turn a one-shot `transfer` or `migrate` into a standing mirror. */
export const standingFlags = {
  schedule: Flags.string({
    description: 'keep running and sync on this cron expression (5 fields, or 6 with seconds first; e.g. "*/15 * * * *")',
    exclusive: ['interval'],
    helpGroup: STANDING,
  }),
  timezone: Flags.string({description: "IANA time zone of --schedule (default: the machine's)", dependsOn: ['schedule'], helpGroup: STANDING}),
  interval: Flags.string({
    description: 'keep running: sync at once, then every interval (e.g. 30s, 15m, 1h); a tick while a run is busy is skipped',
    exclusive: ['schedule'],
    helpGroup: STANDING,
  }),
  ...serviceFlags,
}

export interface ServiceFlagValues {
  'state-file'?: string
  'grace-period': string
  listen?: string
  'event-token'?: string
}

export interface StandingFlagValues extends ServiceFlagValues {
  schedule?: string
  timezone?: string
  interval?: string
}

/** True when the flags ask for more than one run, a listener, or a state file. */
export function isStanding(flags: StandingFlagValues): boolean {
  return Boolean(flags.schedule || flags.interval || flags.listen || flags['state-file'])
}

/** The trigger the flags ask for: cron, interval, or a single run. Throws a ConfigError. */
export function triggerFromFlags(flags: StandingFlagValues): TriggerSpec {
  if (flags.schedule) return cronTrigger(flags.schedule, flags.timezone)
  if (flags.interval) return {kind: 'interval', ms: parseInterval(flags.interval)}
  return {kind: 'once'}
}

export function serviceSettings(flags: ServiceFlagValues): {
  stateFile?: string
  listen?: {host: string; port: number}
  eventToken?: string
  gracePeriodMs: number
} {
  return {
    ...(flags['state-file'] ? {stateFile: flags['state-file']} : {}),
    ...(flags.listen ? {listen: parseListenAddress(flags.listen)} : {}),
    ...(flags['event-token'] ? {eventToken: flags['event-token']} : {}),
    gracePeriodMs: flags['grace-period'].trim() === '0' ? 0 : parseInterval(flags['grace-period'], '--grace-period'),
  }
}
