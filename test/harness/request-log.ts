// What reached a test registry, read from Distribution's access log.
//
// Distribution writes an Apache combined-format line to stdout for every
// request, independently of log.level, so counting requests needs no proxy.
import {randomUUID} from 'node:crypto'
import {rawRequest, type Endpoint} from './http.js'

export interface RequestLogEntry {
  method: string
  /** Request URI as sent, query string included. */
  path: string
  status: number
  userAgent: string
}

const LINE = /^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) \S+ "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"/
const MARKER = '/v2/?ferry-harness-marker='

export function parseAccessLogLine(line: string): RequestLogEntry | undefined {
  const m = LINE.exec(line)
  if (!m) return undefined
  return {method: m[1] ?? '', path: m[2] ?? '', status: Number(m[3]), userAgent: m[4] ?? ''}
}

export class RequestLog {
  readonly entries: RequestLogEntry[] = []
  private partial = ''
  private readonly waiters = new Map<string, () => void>()

  constructor(private readonly endpoint: Pick<Endpoint, 'url' | 'caPem'>) {}

  /** Feeds raw stdout of the registry. */
  write(chunk: Buffer): void {
    const lines = (this.partial + chunk.toString('utf8')).split('\n')
    this.partial = lines.pop() ?? ''
    for (const line of lines) {
      const entry = parseAccessLogLine(line)
      if (entry === undefined) continue
      if (entry.path.startsWith(MARKER)) {
        const id = entry.path.slice(MARKER.length)
        this.waiters.get(id)?.()
        this.waiters.delete(id)
        continue
      }
      this.entries.push(entry)
    }
  }

  clear(): void {
    this.entries.length = 0
  }

  count(filter?: {method?: string; path?: string | RegExp; status?: number}): number {
    return this.entries.filter(
      (e) =>
        (filter?.method === undefined || e.method === filter.method) &&
        (filter?.status === undefined || e.status === filter.status) &&
        (filter?.path === undefined || (typeof filter.path === 'string' ? e.path === filter.path : filter.path.test(e.path))),
    ).length
  }

  /**
   * Resolves once every request answered before the call is in `entries`.
   *
   * The access line is written after the response, so a client can see its
   * answer before the line arrives. A marker request sent now is logged after
   * those earlier lines; waiting for it flushes them.
   */
  async settle(timeoutMs = 5000): Promise<RequestLogEntry[]> {
    const id = randomUUID()
    const seen = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id)
        reject(new Error('registry access log did not show the marker request'))
      }, timeoutMs)
      this.waiters.set(id, () => {
        clearTimeout(timer)
        resolve()
      })
    })
    await rawRequest(this.endpoint, 'GET', MARKER + id)
    await seen
    return this.entries
  }
}
