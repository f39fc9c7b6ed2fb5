import {appendFileSync} from 'node:fs'

/** Where progress and problems go; a library caller may pass its own. */
export interface Logger {
  /** Progress: stderr unless quiet. */
  info(line: string): void
  /** Problems: stderr always. */
  warn(line: string): void
  /** The closing report: stdout unless quiet output was asked for as JSON. */
  result(line: string): void
}

/** Values that must never be printed, registered as credentials are loaded. */
export class Redactor {
  private readonly secrets = new Set<string>()

  add(value: string | undefined): void {
    // Very short values would blank out ordinary words; they are also not worth protecting this way.
    if (value && value.length >= 4) {
      this.secrets.add(value)
      this.secrets.add(Buffer.from(value).toString('base64'))
    }
  }

  redact(text: string): string {
    let out = text.replace(/\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]+/g, '$1 [redacted]')
    // A JWT (most registries' bearer tokens), also when quoted without its scheme or cut short.
    out = out.replace(/\beyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}/g, '[redacted]')
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]')
    return out
  }
}

/** Lines to stderr, and to a log file when asked; every line passes the redactor first. */
export function createLogger(options: {
  logFile?: string
  quiet?: boolean
  /** Keep stdout for a JSON document: the report lines then go only to the log file. */
  json?: boolean
  redactor?: Redactor
}): Logger {
  const redactor = options.redactor ?? new Redactor()
  const emit = (line: string, stream: NodeJS.WriteStream | undefined) => {
    const clean = redactor.redact(line)
    stream?.write(`${clean}\n`)
    if (options.logFile) appendFileSync(options.logFile, `${new Date().toISOString()} ${clean}\n`)
  }
  return {
    info: (line) => emit(line, options.quiet || options.json ? undefined : process.stderr),
    warn: (line) => emit(line, process.stderr),
    result: (line) => emit(line, options.json ? undefined : process.stdout),
  }
}

/** The same logger with every line passed through the redactor (a library caller's logger too). */
export function redactingLogger(logger: Logger, redactor: Redactor): Logger {
  return {
    info: (line) => logger.info(redactor.redact(line)),
    warn: (line) => logger.warn(redactor.redact(line)),
    result: (line) => logger.result(redactor.redact(line)),
  }
}

export const silentLogger: Logger = {info() {}, warn() {}, result() {}}
