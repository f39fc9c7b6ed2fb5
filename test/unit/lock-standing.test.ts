import assert from 'node:assert/strict'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {test} from 'node:test'

import {parseLock} from '../../src/config/lock-file.js'
import {lockedSyncJob} from '../../src/lock-files.js'
import type {Logger} from '../../src/report/logger.js'
import type {JobResult, TransferReport} from '../../src/report/summary.js'
import type {RunHooks, SyncJob} from '../../src/serve/sync-job.js'

const D = (n: number) => `sha256:${String(n).repeat(64)}`
const SRC = 'src.example.com/team/app'
const DST = 'dst.example.com/mirror/app'

const copied = (tag: string, digest: string): JobResult => ({
  source: `${SRC}:${tag}`,
  destination: `${DST}:${tag}`,
  rule: SRC,
  status: 'copied',
  digest,
  destinationDigest: digest,
  bytes: 0,
  blobs: {uploaded: 0, mounted: 0, existing: 0},
  attempts: 1,
  durationMs: 0,
})
const report = (results: JobResult[]): TransferReport => ({
  results,
  generateFailures: [],
  summary: {jobs: results.length, copied: results.length, skipped: 0, failed: 0, generateFailed: 0, bytes: 0, requests: 0, durationMs: 0},
})

/** A standing job whose runs give the reports queued for them: what the lock is built from. */
function standingJob(full: TransferReport[], pushes: TransferReport[]): SyncJob & {load(): Promise<void>; loads: number} {
  return {
    name: 'mirror',
    trigger: {kind: 'once'} as SyncJob['trigger'],
    loads: 0,
    async load() {
      this.loads++
    },
    runAll: async () => full.shift()!,
    rulesForPush: () => [],
    runRules: async () => pushes.shift()!,
    close: async () => undefined,
  }
}

test('lockedSyncJob: the lock read at load, written after each full run and each push; a write that fails is one warning', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-lock-standing-'))
  try {
    const file = path.join(dir, 'mirror.lock.yaml')
    await writeFile(file, `version: 1\nimages:\n  ${SRC}:old:\n    digest: ${D(9)}\n    destinations: {}\n`)
    const warnings: string[] = []
    const logger: Logger = {info() {}, warn: (line) => warnings.push(line), result() {}}
    const hooks = {logger} as unknown as RunHooks
    const inner = standingJob([report([copied('1.0', D(1)), copied('2.0', D(2))]), report([copied('1.0', D(4))])], [report([copied('2.0', D(3))])])
    const job = lockedSyncJob(inner, file)
    await job.load()
    assert.equal(inner.loads, 1)
    const images = async () => parseLock(await readFile(file, 'utf8'), file).images
    // A complete run: what the rules name today, the old tag dropped.
    await job.runAll(hooks)
    assert.deepEqual(Object.keys(await images()), [`${SRC}:1.0`, `${SRC}:2.0`])
    // A push: that tag's entry only.
    await job.runRules([], hooks)
    assert.deepEqual(await images(), {
      [`${SRC}:1.0`]: {digest: D(1), destinations: {[`${DST}:1.0`]: D(1)}},
      [`${SRC}:2.0`]: {digest: D(3), destinations: {[`${DST}:2.0`]: D(3)}},
    })
    // The folder goes: the run still returns its report; the lock is not written, said in one line.
    await rm(dir, {recursive: true})
    const last = await job.runAll(hooks)
    assert.equal(last.results[0]!.digest, D(4))
    assert.equal(warnings.length, 1)
    assert.match(warnings[0]!, /^warning: --lock-file .*mirror\.lock\.yaml: not written \(/)
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
})

test('lockedSyncJob: a lock that cannot be read stops the start', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-lock-standing-'))
  try {
    const file = path.join(dir, 'broken.lock.yaml')
    await writeFile(file, 'version: 7\nimages: {}\n')
    const inner = standingJob([], [])
    await assert.rejects(lockedSyncJob(inner, file).load(), /broken\.lock\.yaml:1: lock file has version 7/)
    assert.equal(inner.loads, 0)
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
})
