// A hostile source registry sending bodies without end, or pages without end: ferry refuses a body
// past its limit while reading it (memory stays small), ends a looping listing with one line, and
// stops `backup`, `save` and `migrate` promptly on SIGINT/SIGTERM. The real registry sits behind
// the hostile proxy; only the named answers are forged.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {Readable} from 'node:stream'
import {after, before, describe, test} from 'node:test'

import {startHostileRegistry, type HostileRegistry} from '../harness/hostile-registry.js'
import {pushImage, randomLayer, startRegistry, type TestRegistry} from '../harness/index.js'
import {lines, ROOT, ruleYaml, workDir} from './support.js'

const MiB = 1024 * 1024
/** ferry reads the manifest by digest after a HEAD by tag: every manifest GET of team/app is forged. */
const MANIFESTS = /^\/v2\/team\/app\/manifests\/[^/]+$/
/** Node and oclif take about 100 MB; a body read whole would add its own size (the issue measured 1.1 GB for 512 MiB). */
const RSS_LIMIT_KB = 200 * 1024

/** `size` bytes of `{`, produced as they are read. */
function sizedBody(size: number): Readable {
  const chunk = Buffer.alloc(64 * 1024, 0x7b)
  let sent = 0
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null)
      const part = chunk.subarray(0, Math.min(chunk.length, size - sent))
      sent += part.length
      this.push(part)
    },
  })
}

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
  /** Peak RSS in KiB (with `measure`). */
  maxRssKb?: number
  /** The deadline passed and the run was killed. */
  killed: boolean
}

/**
 * Runs the built CLI in its own process group. `measure` wraps it in /usr/bin/time for the peak
 * RSS; `interrupt` sends a signal to ferry once `when` says so. Past `deadlineMs` the whole group
 * is killed, so a run that never ends (today's main) fails the test instead of hanging it.
 */
function runFerry(args: string[], options: {deadlineMs: number; measure?: string; interrupt?: {signal: NodeJS.Signals; when: () => boolean}}): Promise<Run> {
  const node = [process.execPath, path.join(ROOT, 'bin', 'run.js'), ...args]
  const [command, ...rest] = options.measure ? ['/usr/bin/time', '-f', '%M', '-o', options.measure, ...node] : node
  const started = Date.now()
  const child = spawn(command!, rest, {
    cwd: ROOT,
    env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', FERRY_SKIP_NEW_VERSION_CHECK: 'true'},
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  let killed = false
  const deadline = setTimeout(() => {
    killed = true
    process.kill(-child.pid!, 'SIGKILL')
  }, options.deadlineMs)
  const poll = options.interrupt
    ? setInterval(() => {
        if (!options.interrupt!.when()) return
        clearInterval(poll)
        child.kill(options.interrupt!.signal)
      }, 50)
    : undefined
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', async (code, signal) => {
      clearTimeout(deadline)
      if (poll) clearInterval(poll)
      const ms = Date.now() - started
      let maxRssKb: number | undefined
      if (options.measure && !killed) maxRssKb = Number((await readFile(options.measure, 'utf8')).trim().split('\n').at(-1))
      resolve({code, signal, stdout, stderr, ms, maxRssKb, killed})
    })
  })
}

function describeRun(run: Run): string {
  return `exit ${run.code}${run.signal ? ` (${run.signal})` : ''} after ${run.ms} ms${run.killed ? ', killed at the deadline' : ''}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`
}

/** The stderr lines that carry the failure: exactly one, and no stack trace anywhere. */
function oneErrorLine(run: Run, pattern: RegExp): string {
  const matching = lines(run.stderr).filter((line) => pattern.test(line))
  assert.equal(matching.length, 1, describeRun(run))
  assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace')
  return matching[0]!
}

describe('hostile bodies and pages', () => {
  let registry: TestRegistry
  let dst: TestRegistry
  let hostile: HostileRegistry
  let work: Awaited<ReturnType<typeof workDir>>
  let security: string

  before(async () => {
    ;[registry, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
    hostile = await startHostileRegistry(registry)
    await pushImage(registry, 'team/app', 'v1', {layers: [randomLayer(512, 'bodies:v1')]})
    await pushImage(registry, 'team/app', 'v2', {layers: [randomLayer(512, 'bodies:v2')]})
    security = await work.file('security.yaml', `"http://${hostile.host}": {}\n"http://${dst.host}": {}\n`)
  })
  after(async () => {
    await hostile?.stop()
    await Promise.all([registry?.stop(), dst?.stop(), work?.cleanup()])
  })

  const transferArgs = async (name: string, source: string) => {
    const ruleFile = await work.file(`${name}.yaml`, ruleYaml([[`${hostile.host}/${source}`, `${dst.host}/${name}/app`]]))
    return ['transfer', '--ruleFile', ruleFile, '--securityFile', security, '--retry', '0', '--routines', '1']
  }

  test('a 512 MiB manifest is refused past 4 MiB while it is read: one line, exit 1, small RSS', {timeout: 120_000}, async (t) => {
    const fault = hostile.respond(
      MANIFESTS,
      () => ({status: 200, headers: {'content-type': 'application/vnd.oci.image.manifest.v1+json'}, body: () => sizedBody(512 * MiB)}),
      {method: 'GET'},
    )
    try {
      const run = await runFerry(await transferArgs('huge', 'team/app:v1'), {deadlineMs: 90_000, measure: path.join(work.dir, 'rss-huge')})
      assert.equal(run.code, 1, describeRun(run))
      const line = oneErrorLine(run, /more than 4 MiB/)
      assert.match(
        line,
        new RegExp(`GET manifest ${hostile.host}/team/app[:@]\\S+: registry ${hostile.host} sent more than 4 MiB \\(the manifest limit\\); refused`),
      )
      t.diagnostic(`peak RSS ${run.maxRssKb} KiB`)
      assert.ok(run.maxRssKb! < RSS_LIMIT_KB, `peak RSS ${run.maxRssKb} KiB`)
      assert.equal(fault.hits, 1, 'not retried: the same registry sends the same body again')
    } finally {
      fault.remove()
    }
  })

  test('a manifest announcing 512 MiB in Content-Length is refused before its body is read', {timeout: 60_000}, async (t) => {
    const fault = hostile.respond(
      MANIFESTS,
      () => ({
        status: 200,
        headers: {'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(512 * MiB)},
        body: () => sizedBody(512 * MiB),
      }),
      {method: 'GET'},
    )
    try {
      const run = await runFerry(await transferArgs('announced', 'team/app:v1'), {deadlineMs: 45_000, measure: path.join(work.dir, 'rss-announced')})
      assert.equal(run.code, 1, describeRun(run))
      oneErrorLine(run, /announced 512 MiB, more than 4 MiB \(the manifest limit\); refused/)
      t.diagnostic(`peak RSS ${run.maxRssKb} KiB`)
      assert.ok(run.maxRssKb! < RSS_LIMIT_KB, `peak RSS ${run.maxRssKb} KiB`)
    } finally {
      fault.remove()
    }
  })

  test('a 500 with a 256 MiB body fails on its status; only the start of each body is read', {timeout: 120_000}, async (t) => {
    const fault = hostile.respond(MANIFESTS, () => ({status: 500, headers: {'content-type': 'text/html'}, body: () => sizedBody(256 * MiB)}), {method: 'GET'})
    try {
      const run = await runFerry(await transferArgs('error-body', 'team/app:v1'), {deadlineMs: 90_000, measure: path.join(work.dir, 'rss-500')})
      assert.equal(run.code, 1, describeRun(run))
      oneErrorLine(run, /GET manifest .*: 500 SERVER_ERROR/)
      t.diagnostic(`peak RSS ${run.maxRssKb} KiB`)
      assert.ok(run.maxRssKb! < RSS_LIMIT_KB, `peak RSS ${run.maxRssKb} KiB`)
      assert.ok(fault.hits >= 2, 'a 500 is retried by the client')
    } finally {
      fault.remove()
    }
  })

  test('a tag list whose Link points to itself ends the listing with one line and exit 1', {timeout: 60_000}, async () => {
    const fault = hostile.forgeTags('team/app', ['v1'], {link: '</v2/team/app/tags/list?n=1000>; rel="next"'})
    try {
      const run = await runFerry(await transferArgs('looping-tags', 'team/app'), {deadlineMs: 30_000})
      assert.equal(run.code, 1, describeRun(run))
      oneErrorLine(run, new RegExp(`list tags of ${hostile.host}/team/app: the next page \\(/v2/team/app/tags/list\\?n=1000\\) is one already read`))
      assert.equal(fault.hits, 1, 'the page is not asked for again')
      assert.ok(run.ms < 15_000, `took ${run.ms} ms`)
    } finally {
      fault.remove()
    }
  })

  test('backup of a catalog whose Link points to itself ends with one line and exit 1', {timeout: 60_000}, async () => {
    const fault = hostile.forgeCatalog(['team/app'], {link: '</v2/_catalog?n=1000>; rel="next"'})
    try {
      const output = path.join(work.dir, 'backup-loop')
      const run = await runFerry(['backup', '--source', hostile.host, '--output', output, '--securityFile', security], {deadlineMs: 30_000})
      assert.equal(run.code, 1, describeRun(run))
      oneErrorLine(run, new RegExp(`list repositories of ${hostile.host}: the next page \\(/v2/_catalog\\?n=1000\\) is one already read`))
      assert.equal(fault.hits, 1)
      // What the first page named is still saved.
      assert.match(run.stdout, /2 copied/, describeRun(run))
    } finally {
      fault.remove()
    }
  })

  const stalled = (pattern: RegExp) => {
    const fault = hostile.addFault({path: pattern, method: 'GET', fault: {kind: 'stall'}})
    return {fault, waiting: () => fault.hits > 0}
  }

  test('SIGINT stops a backup stuck on a catalog that never answers: exit 130 within seconds', {timeout: 60_000}, async () => {
    const {fault, waiting} = stalled(/^\/v2\/_catalog(\?|$)/)
    try {
      const output = path.join(work.dir, 'backup-stalled')
      const run = await runFerry(['backup', '--source', hostile.host, '--output', output, '--securityFile', security], {
        deadlineMs: 20_000,
        interrupt: {signal: 'SIGINT', when: waiting},
      })
      assert.equal(run.killed, false, describeRun(run))
      assert.equal(run.code, 130, describeRun(run))
      assert.ok(run.ms < 10_000, `took ${run.ms} ms`)
    } finally {
      fault.remove()
    }
  })

  test('SIGTERM stops a migrate stuck on the catalog: exit 143 within seconds', {timeout: 60_000}, async () => {
    const {fault, waiting} = stalled(/^\/v2\/_catalog(\?|$)/)
    try {
      const args = ['migrate', '--from', 'registry', '--fromRegistry', hostile.host, '--to', 'registry', '--toRegistry', dst.host, '--securityFile', security]
      const run = await runFerry(args, {deadlineMs: 20_000, interrupt: {signal: 'SIGTERM', when: waiting}})
      assert.equal(run.killed, false, describeRun(run))
      assert.equal(run.code, 143, describeRun(run))
      assert.ok(run.ms < 10_000, `took ${run.ms} ms`)
    } finally {
      fault.remove()
    }
  })

  test('SIGINT stops a save stuck on a tag list: exit 130 within seconds', {timeout: 60_000}, async () => {
    const {fault, waiting} = stalled(/^\/v2\/team\/app\/tags\/list/)
    try {
      const ruleFile = await work.file('save.yaml', `${hostile.host}/team/app: ""\n`)
      const run = await runFerry(['save', '--ruleFile', ruleFile, '--securityFile', security, '--output', path.join(work.dir, 'save-stalled')], {
        deadlineMs: 20_000,
        interrupt: {signal: 'SIGINT', when: waiting},
      })
      assert.equal(run.killed, false, describeRun(run))
      assert.equal(run.code, 130, describeRun(run))
      assert.ok(run.ms < 10_000, `took ${run.ms} ms`)
    } finally {
      fault.remove()
    }
  })
})
