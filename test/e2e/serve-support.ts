// Helpers for the long-running mode's e2e tests: a ferry process whose log can be waited on,
// and /metrics read back as numbers. Not a test file itself.
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {ROOT} from './support.js'

export interface FerryProcess {
  child: ChildProcess
  stderr(): string
  stdout(): string
  /** Resolves with the first match of `pattern` in stderr+stdout, or fails after `timeoutMs` showing the log. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  /** SIGKILL if still running (for `after`). */
  kill(): void
}

export function startFerry(args: string[], env: NodeJS.ProcessEnv = {}): FerryProcess {
  if (!existsSync(path.join(ROOT, 'dist', 'commands', 'schedule.js'))) throw new Error('dist/ is stale: run `npm run build` first')
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args], {
    cwd: ROOT,
    env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let stdout = ''
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.once('exit', (code, signal) => resolve({code, signal})))
  let done = false
  void exited.then(() => (done = true))
  return {
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    kill: () => {
      if (!done) child.kill('SIGKILL')
    },
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const match = (stderr + stdout).match(pattern)
        if (match) return match
        if (done || Date.now() > deadline) {
          throw new Error(`${done ? 'ferry exited' : `no ${pattern} within ${timeoutMs} ms`}; log:\n${stderr}\n--- stdout:\n${stdout}`)
        }
        await sleep(25)
      }
    },
  }
}

/** The address ferry printed for its listener. */
export async function listenAddress(ferry: FerryProcess, timeoutMs = 15_000): Promise<string> {
  return (await ferry.waitFor(/listening on http:\/\/(\S+) /, timeoutMs))[1]!
}

export function httpRequest(
  url: string,
  options: {method?: string; headers?: Record<string, string>; body?: string | Buffer} = {},
): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {method: options.method ?? 'GET', headers: options.headers, timeout: 10_000}, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (c: Buffer) => chunks.push(c))
      response.on('end', () => resolve({status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8')}))
      response.on('error', reject)
    })
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer in 10 s`)))
    request.on('error', (error: NodeJS.ErrnoException) => {
      // A server that refuses a large body may close before reading it all; its answer still counts.
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') reject(error)
      else reject(error)
    })
    request.end(options.body)
  })
}

/** Prometheus text → value of one series (`name{a="b"}`, labels in any order); 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0
  let found = false
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) {
      total += Number(match[3])
      found = true
    }
  }
  return found ? total : 0
}

export async function metrics(address: string): Promise<string> {
  const response = await httpRequest(`http://${address}/metrics`)
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`)
  return response.body
}
