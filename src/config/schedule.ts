/**
 * schedule.yaml: several named standing jobs in one process, each with its own inputs, trigger
 * and engine settings. Every mistake is one line naming the file, the line and the job.
 *
 *   jobs:
 *     hub-mirror:
 *       ruleFile: rules/hub.yaml        # relative to this file
 *       securityFile: security.yaml
 *       schedule: "0 * * * *"           # or interval: 15m
 *       timezone: Europe/Berlin
 *       routines: 5
 */
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {ConfigError} from '../errors.js'
import type {InputFiles} from '../inputs.js'
import {tagFilter} from '../select/filters.js'
import type {UserSettings} from '../settings.js'
import {parseInterval} from './interval.js'
import {parseQps} from './qps.js'
import {parseSize} from './size.js'
import {cronTrigger, type TriggerSpec} from './trigger-spec.js'
import {isPlainMap, kindOf, loadYaml, scanKeys, type KeyAt} from './yaml.js'

export interface ScheduledJobConfig {
  name: string
  line?: number
  files: InputFiles
  trigger: TriggerSpec
  /** What schedule.yaml sets of the engine: routines, retry, qps, chunkSize, overwriteTags, tagFilter. */
  engine: UserSettings
  /** The job's lock file, written after each run (docs/lock-file.md); resolved against schedule.yaml's folder. */
  lockFile?: string
}

const FIELDS = [
  'ruleFile',
  'securityFile',
  'registry',
  'ns',
  'schedule',
  'timezone',
  'interval',
  'routines',
  'retry',
  'qps',
  'chunkSize',
  'tagExistOverridden',
  'includeTags',
  'excludeTags',
  'lockFile',
] as const
type Field = (typeof FIELDS)[number]

export async function loadScheduleFile(file: string): Promise<ScheduledJobConfig[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new ConfigError(`cannot read schedule file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, {file})
  }
  return parseSchedule(text, file)
}

/** Pure: the text of a schedule file → its jobs, or the first mistake as a ConfigError with file and line. */
export function parseSchedule(text: string, file: string): ScheduledJobConfig[] {
  const {value: doc} = loadYaml(text, file, {duplicates: 'error', what: 'key'})
  const keys = scanKeys(text)
  const fail = (message: string, line?: number): never => {
    throw new ConfigError(message, {file, line})
  }
  if (!isPlainMap(doc)) fail(`a schedule file is a map with a "jobs" key; this one is ${kindOf(doc)}`, 1)
  const top = doc as Record<string, unknown>
  for (const key of Object.keys(top))
    if (key !== 'jobs') fail(`unknown key "${key}"; a schedule file has one key, "jobs"`, keys.find((k) => k.top && k.key === key)?.line)
  const jobsKey = keys.find((k) => k.top && k.key === 'jobs')
  if (!isPlainMap(top.jobs) || Object.keys(top.jobs).length === 0) {
    fail(`"jobs" must be a map from job name to its settings; found ${kindOf(top.jobs)}`, jobsKey?.line ?? 1)
  }
  const jobs = top.jobs as Record<string, unknown>
  const children = jobsKey ? childKeys(keys, jobsKey) : []
  const baseDir = path.dirname(file)
  const out: ScheduledJobConfig[] = []
  for (const [name, value] of Object.entries(jobs)) {
    const jobKey = children.find((k) => k.key === name)
    const line = jobKey?.line
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name))
      fail(`job "${name}": a job name is letters, digits, '.', '_' and '-' (it labels metrics and the state file)`, line)
    if (!isPlainMap(value)) fail(`job "${name}": its settings must be a map; found ${kindOf(value)}`, line)
    const fields = jobKey ? childKeys(keys, jobKey) : []
    const at = (field: string) => fields.find((k) => k.key === field)?.line ?? line
    const job = parseJob(name, value as Record<string, unknown>, baseDir, (message, field) => fail(`job "${name}": ${message}`, field ? at(field) : line), line)
    // Two jobs writing one lock would each drop the other's entries.
    const sharing = out.find((other) => job.lockFile && other.lockFile === job.lockFile)
    if (sharing) fail(`job "${name}": lockFile is job "${sharing.name}"'s too; give each job its own`, at('lockFile'))
    out.push(job)
  }
  return out
}

function parseJob(
  name: string,
  settings: Record<string, unknown>,
  baseDir: string,
  fail: (message: string, field?: string) => never,
  line: number | undefined,
): ScheduledJobConfig {
  for (const key of Object.keys(settings)) {
    if (!(FIELDS as readonly string[]).includes(key)) fail(`unknown setting "${key}"; known: ${FIELDS.join(', ')}`, key)
  }
  const string = (field: Field): string | undefined => {
    const value = settings[field]
    if (value === undefined || value === null) return undefined
    if (typeof value !== 'string' || value.trim() === '') fail(`${field} must be text; found ${typeof value === 'string' ? 'nothing' : kindOf(value)}`, field)
    return (value as string).trim()
  }
  const integer = (field: Field, fallback: number, min: number): number => {
    const value = settings[field]
    if (value === undefined || value === null) return fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) fail(`${field} must be a whole number of at least ${min}`, field)
    return value as number
  }
  const list = (field: Field): string[] | undefined => {
    const value = settings[field]
    if (value === undefined || value === null) return undefined
    const items = typeof value === 'string' ? [value] : value
    if (!Array.isArray(items) || items.some((item) => typeof item !== 'string')) fail(`${field} must be a regular expression or a list of them`, field)
    return items as string[]
  }
  const guard = <T>(field: Field, parse: () => T): T => {
    try {
      return parse()
    } catch (error) {
      // The shared parsers name the command-line flag; here the setting has no dashes.
      if (error instanceof ConfigError) fail(error.message.replace(/^--/, ''), field)
      throw error
    }
  }

  const ruleFile = string('ruleFile')
  if (!ruleFile) fail('ruleFile is required (the rule file this job syncs)')
  const securityFile = string('securityFile')
  const schedule = string('schedule')
  // `interval: 10` reads as a number; the duration parser then asks for the unit.
  if (typeof settings.interval === 'number') settings = {...settings, interval: String(settings.interval)}
  const interval = string('interval')
  const timezone = string('timezone')
  if (schedule && interval) fail('give schedule (cron) or interval, not both', 'interval')
  if (!schedule && !interval) fail('give schedule (a cron expression) or interval (e.g. 15m)')
  if (timezone && !schedule) fail('timezone applies to schedule (cron) only', 'timezone')
  const trigger: TriggerSpec = schedule
    ? cronOrFail(schedule, timezone, fail)
    : {kind: 'interval', ms: guard('interval', () => parseInterval(interval!, 'interval'))}
  const overwrite = settings.tagExistOverridden
  if (overwrite !== undefined && typeof overwrite !== 'boolean') fail('tagExistOverridden must be true or false', 'tagExistOverridden')
  const chunkSize = string('chunkSize')
  const qps = settings.qps === undefined || settings.qps === null ? 0 : guard('qps', () => parseQps(settings.qps, 'qps'))
  const include = list('includeTags')
  const exclude = list('excludeTags')
  const engine: UserSettings = {
    routines: integer('routines', 5, 1),
    retry: integer('retry', 2, 0),
    ...(qps ? {qps} : {}),
    ...(chunkSize ? {chunkSize: guard('chunkSize', () => parseSize(chunkSize, 'chunkSize'))} : {}),
    overwriteTags: overwrite === undefined ? true : (overwrite as boolean),
  }
  const filter = guard(include ? 'includeTags' : 'excludeTags', () => tagFilter({include, exclude}))
  if (filter) engine.tagFilter = filter
  const files: InputFiles = {ruleFile: path.resolve(baseDir, ruleFile!)}
  if (securityFile) files.securityFile = path.resolve(baseDir, securityFile)
  const registry = string('registry')
  const ns = string('ns')
  if (registry) files.registry = registry
  if (ns) files.ns = ns
  const lockFile = string('lockFile')
  return {name, ...(line ? {line} : {}), files, trigger, engine, ...(lockFile ? {lockFile: path.resolve(baseDir, lockFile)} : {})}
}

function cronOrFail(schedule: string, timezone: string | undefined, fail: (message: string, field?: string) => never): TriggerSpec {
  try {
    return cronTrigger(schedule, timezone, 'schedule')
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return fail(error.message, error.message.startsWith('timezone') ? 'timezone' : 'schedule')
  }
}

/** The keys one level under `parent`, up to the next key at `parent`'s level or above. */
function childKeys(keys: readonly KeyAt[], parent: KeyAt): KeyAt[] {
  const start = keys.indexOf(parent)
  const out: KeyAt[] = []
  let childLevel: number | undefined
  for (const key of keys.slice(start + 1)) {
    if (key.level <= parent.level) break
    childLevel ??= key.level
    if (key.level === childLevel) out.push(key)
  }
  return out
}
