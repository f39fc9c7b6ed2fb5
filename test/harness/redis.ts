// A throwaway Redis on loopback (Debian's redis-server) for the fleet tests: no persistence, a
// random port, stopped with the test process at the latest.
import {spawn, type ChildProcess} from 'node:child_process'
import {onProcessExit} from './cleanup.js'
import {freePort} from './free-port.js'

const REDIS_BIN = process.env.FERRY_TEST_REDIS_BIN ?? 'redis-server'
const PORT_ATTEMPTS = 5

export interface TestRedis {
  host: string
  port: number
  /** redis://127.0.0.1:PORT/0 */
  url: string
  /** What the server printed so far, for diagnosing failures. */
  logs(): string
  stop(): Promise<void>
}

export async function startRedis(options: {readyTimeoutMs?: number} = {}): Promise<TestRedis> {
  let lastError: unknown
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await freePort()
    try {
      return await launch(port, options.readyTimeoutMs ?? 10_000)
    } catch (error) {
      lastError = error
      if (!/Address already in use/i.test(String(error))) throw error
    }
  }
  throw lastError
}

function launch(port: number, readyTimeoutMs: number): Promise<TestRedis> {
  const child: ChildProcess = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const forget = onProcessExit(() => child.kill('SIGKILL'))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    forget()
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))])
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`redis-server did not start within ${readyTimeoutMs} ms:\n${output}`))
    }, readyTimeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8')
      if (output.length > 64 * 1024) output = output.slice(-64 * 1024)
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer)
        resolve({host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}/0`, logs: () => output, stop})
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('error', (error) => {
      clearTimeout(timer)
      forget()
      reject(error)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      forget()
      reject(new Error(`redis-server exited with ${code}:\n${output}`))
    })
  })
}
