/** One log line as a JSON object (--log-format json), and the structured fields the engine's events give it. Pure. */
import type {EngineEvent} from './events.js'
import {registryOf, repositoryOf, tagOf} from './reference-parts.js'
import type {JobResult} from './summary.js'

export type LogFormat = 'text' | 'json'
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json']

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** What a line is about, where the logger knows it; every value already fit to print. */
export interface LogFields {
  registry?: string
  repository?: string
  tag?: string
  digest?: string
  code?: string
  source?: string
  destination?: string
  status?: string
  method?: string
  url?: string
  httpStatus?: number
  ms?: number
  bytes?: number
}

/** The line as one JSON object: time, level and message first, then the fields that are set. */
export function jsonLogLine(level: LogLevel, message: string, fields: LogFields = {}, now = new Date()): string {
  const defined = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))
  return JSON.stringify({time: now.toISOString(), level, message, ...defined})
}

/** A finished job's fields: its destination's registry, repository and tag, the source digest, the error code. */
export function resultFields(result: JobResult): LogFields {
  return {
    registry: registryOf(result.destination),
    repository: repositoryOf(result.destination),
    tag: tagOf(result.destination),
    digest: result.digest || undefined,
    code: result.error?.code,
    source: result.source,
    destination: result.destination,
    status: result.status,
    bytes: result.bytes,
  }
}

/** A --verbose event's fields (a blob made present, a retry). */
export function eventFields(event: EngineEvent): LogFields {
  switch (event.type) {
    case 'blob':
      return {
        registry: registryOf(event.destination),
        repository: repositoryOf(event.destination),
        digest: event.digest,
        source: event.source,
        destination: event.destination,
        status: event.outcome,
        bytes: event.bytes,
      }
    case 'retry':
      return {
        registry: registryOf(event.destination),
        repository: repositoryOf(event.destination),
        tag: tagOf(event.destination),
        digest: event.digest,
        code: event.error.code,
        source: event.source,
        destination: event.destination,
      }
    default:
      return {}
  }
}

/** A registry request as --debug prints it (the URL already redacted). */
export function requestLine(request: {registry: string; method: string; url: string; status: number; ms: number}): {line: string; fields: LogFields} {
  const status = request.status === 0 ? 'no answer' : String(request.status)
  return {
    line: `debug: ${request.method} ${request.url} → ${status} (${request.ms} ms)`,
    fields: {registry: request.registry, method: request.method, url: request.url, httpStatus: request.status, ms: request.ms},
  }
}
