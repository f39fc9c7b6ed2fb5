// An upload cut in the middle goes on from the offset its session holds, within a run and after a
// SIGKILL, instead of sending the blob again. Real Distribution behind the fault proxy; the proxy
// counts the upload bytes that reach the destination. Distribution cancels a session that holds
// part of a chunk, so the resumable cases put a front that buffers request bodies before it (nginx's
// default), and the bare case shows the clean start over.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomBlob, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {startFaultProxy, type FaultProxy} from '../harness/fault-proxy.js'
import {startLinkEmulator} from '../harness/link-emulator.js'
import {transfer} from '../../src/index.js'
import {describeReport, plainEntries, ROOT, workDir} from './support.js'

const MiB = 1024 * 1024

/** Upload bytes (PATCH and PUT bodies) the proxy received for `repository`. */
function uploaded(proxy: FaultProxy, repository: string): number {
  return proxy.requests
    .filter((r) => (r.method === 'PATCH' || r.method === 'PUT') && r.path.startsWith(`/v2/${repository}/blobs/uploads/`))
    .reduce((sum, r) => sum + r.bodyBytes, 0)
}

function sessionsStarted(proxy: FaultProxy, repository: string): number {
  return proxy.count({method: 'POST', path: new RegExp(`^/v2/${repository}/blobs/uploads/`)})
}

describe('upload resume', () => {
  let src: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>
  const layer = randomBlob(48 * MiB, 'upload-resume:48')
  let image: Awaited<ReturnType<typeof pushImage>>

  before(async () => {
    ;[src, work] = await Promise.all([startRegistry(), workDir()])
    image = await pushImage(src, 'big/app', '1', {layers: [layer]})
  })
  after(async () => {
    await Promise.all([src?.stop(), work?.cleanup()])
  })

  async function copyThrough(proxy: FaultProxy, dst: TestRegistry, name: string) {
    const ruleFile = await work.file(`${name}.yaml`, `${src.host}/big/app:1: ${proxy.host}/${name}\n`)
    const securityFile = await work.file(`${name}-security.yaml`, plainEntries(src, dst) + `"http://${proxy.host}": {}\n`)
    return transfer({ruleFile, securityFile, routines: 1, retryBaseMs: 10, chunkSize: 8 * MiB, resumeDir: false})
  }

  test('a chunk cut in the middle is sent again from the offset the session holds, not from byte 0', async () => {
    const dst = await startRegistry()
    const proxy = await startFaultProxy(dst)
    try {
      // The fourth chunk (24–32 MiB) is cut after 4 MiB, once; the front never passes it on.
      proxy.addFault({
        method: 'PATCH',
        path: /^\/v2\/cut\/blobs\/uploads\//,
        skip: 3,
        times: 1,
        fault: {kind: 'reset-request', afterBytes: 4 * MiB, buffered: true},
      })
      const report = await copyThrough(proxy, dst, 'cut')
      assert.equal(report.summary.copied, 1, describeReport(report))
      assert.equal(await skopeoDigest(dst, 'cut:1'), image.digest)
      const sent = uploaded(proxy, 'cut')
      assert.ok(sent < 1.25 * layer.length, `${sent} bytes uploaded for a ${layer.length}-byte layer`)
      // One session: asked where it stood (GET), and went on.
      assert.equal(sessionsStarted(proxy, 'cut'), 2) // the layer's and the config's
      assert.ok(proxy.count({method: 'GET', path: /^\/v2\/cut\/blobs\/uploads\//}) >= 1)
    } finally {
      await Promise.all([proxy.stop(), dst.stop()])
    }
  })

  test('a session the registry dropped after a cut is replaced by a new one, and the copy is exact', async () => {
    const dst = await startRegistry()
    const proxy = await startFaultProxy(dst)
    try {
      // Without a buffering front Distribution stores part of the chunk and then cancels the session.
      proxy.addFault({method: 'PATCH', path: /^\/v2\/gone\/blobs\/uploads\//, skip: 3, times: 1, fault: {kind: 'reset-request', afterBytes: 4 * MiB}})
      const report = await copyThrough(proxy, dst, 'gone')
      assert.equal(report.summary.copied, 1, describeReport(report))
      assert.equal(await skopeoDigest(dst, 'gone:1'), image.digest)
      const status = proxy.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v2/gone/blobs/uploads/'))
      assert.deepEqual(
        status.map((r) => r.status),
        [404],
      )
      assert.equal(sessionsStarted(proxy, 'gone'), 3) // the cut one, its replacement, the config's
    } finally {
      await Promise.all([proxy.stop(), dst.stop()])
    }
  })

  test('a registry that refuses chunks gets the blob in one streamed PUT', async () => {
    const dst = await startRegistry()
    const proxy = await startFaultProxy(dst)
    try {
      proxy.addFault({method: 'PATCH', path: /^\/v2\/whole\/blobs\/uploads\//, fault: {kind: 'status', status: 405}})
      const report = await copyThrough(proxy, dst, 'whole')
      assert.equal(report.summary.copied, 1, describeReport(report))
      assert.equal(await skopeoDigest(dst, 'whole:1'), image.digest)
      const puts = proxy.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/v2/whole/blobs/uploads/') && r.status === 201)
      assert.ok(
        puts.some((r) => r.bodyBytes === layer.length),
        JSON.stringify(puts.map((r) => r.bodyBytes)),
      )
    } finally {
      await Promise.all([proxy.stop(), dst.stop()])
    }
  })
})

describe('upload resume across runs', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let proxy: FaultProxy
  let link: Awaited<ReturnType<typeof startLinkEmulator>>
  let work: Awaited<ReturnType<typeof workDir>>
  const layer = randomBlob(256 * MiB, 'upload-resume:256')
  let image: Awaited<ReturnType<typeof pushImage>>

  before(async () => {
    ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
    // ferry → link (a slow destination, so a kill lands mid-upload) → a buffering front → registry.
    proxy = await startFaultProxy(dst, {bufferRequests: true})
    link = await startLinkEmulator(proxy, {linkRate: 48e6})
    image = await pushImage(src, 'huge/app', '1', {layers: [layer]})
  })
  after(async () => {
    await Promise.all([link?.stop(), proxy?.stop(), src?.stop(), dst?.stop(), work?.cleanup()])
  })

  /** `by`: the folder given as FERRY_RESUME_DIR or as --resume-dir (which wins over a stray FERRY_RESUME_DIR). */
  function run(name: string, resumeDir: string, by: 'env' | 'flag' = 'env') {
    const args = [
      path.join(ROOT, 'bin', 'run.js'),
      'transfer',
      '--ruleFile',
      path.join(work.dir, `${name}.yaml`),
      '--securityFile',
      path.join(work.dir, 'security.yaml'),
    ]
    const env = {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', FERRY_RESUME_DIR: by === 'env' ? resumeDir : path.join(work.dir, 'not-this-one')}
    const child = spawn(process.execPath, by === 'flag' ? [...args, '--resume-dir', resumeDir] : args, {cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    child.stdout.resume()
    const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.once('exit', (code, signal) => resolve({code, signal})))
    return {child, exited, stderr: () => stderr}
  }

  /** Runs ferry until the destination holds about `share` of the layer, then SIGKILLs it. */
  async function killMidUpload(name: string, resumeDir: string, share: number, by: 'env' | 'flag' = 'env') {
    const first = run(name, resumeDir, by)
    let done = false
    void first.exited.then(() => (done = true))
    const deadline = Date.now() + 60_000
    while (!done && uploaded(proxy, name) < share * layer.length && Date.now() < deadline) await sleep(20)
    assert.ok(!done, `ferry finished before it could be killed:\n${first.stderr()}`)
    first.child.kill('SIGKILL')
    assert.equal((await first.exited).signal, 'SIGKILL')
  }

  test('after SIGKILL mid-upload the same command sends at most 20% of the layer again', {timeout: 120_000}, async () => {
    const resumeDir = path.join(work.dir, 'resume-kill')
    await work.file('security.yaml', plainEntries(src, dst) + `"http://${link.host}": {}\n`)
    await work.file('kill.yaml', `${src.host}/huge/app:1: ${link.host}/kill\n`)
    await killMidUpload('kill', resumeDir, 0.45)
    const firstRun = uploaded(proxy, 'kill')
    const saved = await readdir(resumeDir)
    assert.equal(saved.filter((f) => f.endsWith('.json')).length, 1, 'the upload in progress is kept')
    // The file holds the session URL: never world-readable.
    const text = await readFile(
      path.join(
        resumeDir,
        saved.find((f) => f.endsWith('.json'))!,
      ),
      'utf8',
    )
    // The hash state may lag the session (made in a worker that a loaded machine can leave
    // behind): offset 0 keeps the session alone, and the bound below still holds.
    assert.ok(JSON.parse(text).offset >= 0)

    const second = run('kill', resumeDir)
    const how = await second.exited
    assert.equal(how.code, 0, second.stderr())
    assert.equal(await skopeoDigest(dst, 'kill:1'), image.digest)
    const total = uploaded(proxy, 'kill')
    const again = total - layer.length
    assert.ok(again <= 0.2 * layer.length, `sent ${total} bytes in all (${firstRun} before the kill) for a ${layer.length}-byte layer`)
    assert.deepEqual(await readdir(resumeDir).then((files) => files.filter((f) => f.endsWith('.json'))), [], 'the entry is deleted once the blob is committed')
  })

  test('a saved session the registry no longer has is ignored: a new session, an exact copy (folder given by --resume-dir)', {timeout: 120_000}, async () => {
    const resumeDir = path.join(work.dir, 'resume-stale')
    await work.file('security.yaml', plainEntries(src, dst) + `"http://${link.host}": {}\n`)
    await work.file('stale.yaml', `${src.host}/huge/app:1: ${link.host}/stale\n`)
    await killMidUpload('stale', resumeDir, 0.3, 'flag')
    const [file] = (await readdir(resumeDir)).filter((f) => f.endsWith('.json'))
    assert.ok(file, 'the upload in progress is kept')
    const {location} = JSON.parse(await readFile(path.join(resumeDir, file), 'utf8')) as {location: string}
    // Gone either way: cancelled now, or (a kill between a chunk's answer and its entry) by Distribution already.
    const cancelled = await fetch(location, {method: 'DELETE'})
    assert.ok([204, 404].includes(cancelled.status), String(cancelled.status))
    const before = sessionsStarted(proxy, 'stale')

    const second = run('stale', resumeDir, 'flag')
    const how = await second.exited
    assert.equal(how.code, 0, second.stderr())
    assert.equal(await skopeoDigest(dst, 'stale:1'), image.digest)
    assert.ok(sessionsStarted(proxy, 'stale') > before)
    assert.deepEqual(await readdir(resumeDir).then((files) => files.filter((f) => f.endsWith('.json'))), [])
    await assert.rejects(readdir(path.join(work.dir, 'not-this-one')), 'FERRY_RESUME_DIR is not used when --resume-dir is given')
  })
})
