import {appendFileSync} from 'node:fs'

/** Where progress and problems go; a library caller may pass its own. */
export interface Logger {
  info(line: string): void
  warn(line: string): void
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
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]')
    return out
  }
}

/** Lines to stderr, and to a log file when asked; every line passes the redactor first. */
export function createLogger(options: {logFile?: string; quiet?: boolean; redactor?: Redactor; write?: (line: string) => void}): Logger {
  const redactor = options.redactor ?? new Redactor()
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`))
  const emit = (line: string, toConsole: boolean) => {
    const clean = redactor.redact(line)
    if (toConsole) write(clean)
    if (options.logFile) appendFileSync(options.logFile, `${new Date().toISOString()} ${clean}\n`)
  }
  return {
    info: (line) => emit(line, !options.quiet),
    warn: (line) => emit(line, true),
  }
}

export const silentLogger: Logger = {info() {}, warn() {}}
