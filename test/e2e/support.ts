// Small helpers shared by the e2e transfer tests (not a test file itself: no `.test.ts`).
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {TestRegistry} from '../harness/index.js'
import type {JobResult, TransferReport} from '../../src/index.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** A temp dir for rule and security files, removed by `cleanup()`. */
export async function workDir(): Promise<{dir: string; file(name: string, text: string): Promise<string>; cleanup(): Promise<void>}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-e2e-'))
  return {
    dir,
    async file(name, text) {
      const file = path.join(dir, name)
      await writeFile(file, text)
      return file
    },
    cleanup: () => rm(dir, {recursive: true, force: true}),
  }
}

/** A rule file: one `source: destination` line per pair, written as users write them. */
export function ruleYaml(rules: Array<[string, string]>): string {
  return rules.map(([source, destination]) => `${source}: ${destination}\n`).join('')
}

/** Security entries letting ferry reach plain-HTTP test registries anonymously. */
export function plainEntries(...registries: TestRegistry[]): string {
  return registries.map((r) => `"http://${r.host}": {}\n`).join('')
}

/** The one result whose destination is `registry/reference`. */
export function resultFor(report: TransferReport, registry: TestRegistry, reference: string): JobResult {
  const want = `${registry.host}/${reference}`
  const found = report.results.filter((r) => r.destination === want)
  if (found.length !== 1) {
    throw new Error(`expected one result for ${want}, found ${found.length}: ${JSON.stringify(report.results, null, 1)}`)
  }
  return found[0]!
}

/** Fails with the whole report, so a red test shows what happened. */
export function describeReport(report: TransferReport): string {
  return JSON.stringify({results: report.results, generateFailures: report.generateFailures, summary: report.summary}, null, 1)
}

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs the built CLI (`node bin/run.js ARGS`), never throwing for a non-zero exit. */
export function runCli(args: string[], options: {env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}): Promise<CliRun> {
  if (!existsSync(path.join(ROOT, 'dist', 'commands', 'transfer.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before the CLI tests')
  }
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin', 'run.js'), ...args],
      {
        cwd: ROOT,
        env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', FERRY_SKIP_NEW_VERSION_CHECK: 'true', ...options.env},
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (error as {code?: unknown}).code : 0
        if (typeof code !== 'number') {
          reject(error ?? new Error('CLI did not exit with a code'))
          return
        }
        resolve({code, stdout, stderr})
      },
    )
  })
}

/** Lines of text without the empty ones. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '')
}
