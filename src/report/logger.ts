import {appendFileSync} from 'node:fs'

import {escapeControl} from '../control-chars.js'
import {formatVerboseEvent, type EngineEvent} from './events.js'
import {eventFields, jsonLogLine, resultFields, type LogFields, type LogFormat, type LogLevel} from './log-line.js'
import {Redactor} from './redactor.js'
import {formatProgress} from './summary.js'

export {Redactor} from './redactor.js'

/** Where progress and problems go; a library caller may pass its own. */
export interface Logger {
  /** Progress: stderr unless quiet. */
  info(line: string): void
  /** Problems: stderr always. */
  warn(line: string): void
  /** The closing report: stdout unless quiet output was asked for as JSON. */
  result(line: string): void
  /** Structured progress from the engine, for live displays and --verbose lines. */
  event?(event: EngineEvent): void
  /** --debug: a registry request; stderr. */
  debug?(line: string, fields?: LogFields): void
}

/** A live display on a terminal (src/report/progress.ts): draws progress, prints lines above it. */
export interface LiveDisplay {
  log(line: string): void
  event(event: EngineEvent): void
}

/**
 * The last step of every line before it is printed: secrets blanked, then control characters
 * escaped (names from outside can hold them). Both loggers below pass each line here, so no
 * output of the CLI or of a library caller's logger sees a raw one.
 */
export function cleanLine(line: string, redactor: Redactor): string {
  return escapeControl(redactor.redact(line))
}

/** Lines to stderr, and to a log file when asked; every line passes the redactor first. */
export function createLogger(options: {
  logFile?: string
  quiet?: boolean
  /** Keep stdout for a JSON document: the report lines then go only to the log file. */
  json?: boolean
  redactor?: Redactor
  /** Also per-blob lines (uploaded, mounted, present) and retries. */
  verbose?: boolean
  /**
   * A live progress display owning the terminal's last line: problems print above it, and the
   * per-job lines are left to the display's counters (failures still print; all lines with verbose).
   */
  display?: LiveDisplay
  /** json: every line (and the log file's) one JSON object with time, level, message and fields. */
  format?: LogFormat
}): Logger {
  const redactor = options.redactor ?? new Redactor()
  const display = options.display
  type Sink = ((line: string) => void) | undefined
  const toStream = (stream: NodeJS.WriteStream): Sink => (display ? (line) => display.log(line) : (line) => stream.write(`${line}\n`))
  const asJson = options.format === 'json'
  const emit = (level: LogLevel, line: string, sink: Sink, fields?: LogFields) => {
    const clean = cleanLine(line, redactor)
    const printed = asJson ? jsonLogLine(level, clean, cleanFields(fields, redactor)) : clean
    sink?.(printed)
    if (options.logFile) appendFileSync(options.logFile, asJson ? `${printed}\n` : `${new Date().toISOString()} ${clean}\n`)
  }
  const muted = options.quiet || options.json
  const progressSink: Sink = muted ? undefined : toStream(process.stderr)
  const problemSink = toStream(process.stderr)
  // With a display, a line per job would scroll the bar away: the bar counts them instead, and
  // only a failed job's line is printed. The engine announces each job's end just before its line,
  // which also gives that line its fields.
  const countsJobLines = Boolean(display && !options.verbose)
  let announced: {line: string; failed: boolean; fields: LogFields} | undefined
  return {
    info(line) {
      const job = announced !== undefined && cleanLine(line, redactor) === announced.line ? announced : undefined
      announced = undefined
      emit(job?.failed ? 'error' : 'info', line, job && countsJobLines && !job.failed ? undefined : progressSink, job?.fields)
    },
    warn: (line) => emit(/^error\b/i.test(line) ? 'error' : 'warn', line, problemSink),
    result: (line) => emit('info', line, options.json ? undefined : (text) => process.stdout.write(`${text}\n`)),
    debug: (line, fields) => emit('debug', line, problemSink, fields),
    event(event) {
      const verbose = options.verbose ? formatVerboseEvent(event) : undefined
      if (verbose) emit('info', verbose, progressSink, eventFields(event))
      if (event.type === 'job-finished') {
        announced = {
          line: cleanLine(formatProgress(event.index, event.result), redactor),
          failed: event.result.status === 'failed',
          fields: resultFields(event.result),
        }
      }
      display?.event(event)
    },
  }
}

/** Fields pass the same cleaning as the line: names from outside may hold anything. */
function cleanFields(fields: LogFields | undefined, redactor: Redactor): LogFields {
  if (!fields) return {}
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, typeof value === 'string' ? cleanLine(value, redactor) : value]))
}

/** The same logger with every line cleaned (redacted, controls escaped): a library caller's logger too. */
export function redactingLogger(logger: Logger, redactor: Redactor): Logger {
  return {
    info: (line) => logger.info(cleanLine(line, redactor)),
    warn: (line) => logger.warn(cleanLine(line, redactor)),
    result: (line) => logger.result(cleanLine(line, redactor)),
    ...(logger.debug ? {debug: (line: string, fields?: LogFields) => logger.debug!(cleanLine(line, redactor), fields)} : {}),
    // Events carry references, counts and messages the engine has already redacted.
    ...(logger.event ? {event: (event: EngineEvent) => logger.event!(event)} : {}),
  }
}

export const silentLogger: Logger = {info() {}, warn() {}, result() {}}
