// `kill -9` in the middle of a run: the destination must never hold a manifest whose blobs or
// children are missing (the copy order is the only thing standing between a crash and a broken
// image), and running the same rules again finishes the job with every digest exact.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, test} from 'node:test'
import {seedCorpus, skopeoDigest, startRegistry, type Corpus, type TestRegistry} from '../harness/index.js'
import {assertDestinationConsistent, listTags} from './destination-check.js'
import {lines, plainEntries, ROOT, runCli, workDir} from './support.js'

let src: TestRegistry
let dst: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let corpus: Corpus

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
  corpus = await seedCorpus(src, {repositories: 12, tagsPerRepo: 3, layerSize: 512 * 1024, seed: 'kill-rerun'})
})
after(async () => {
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

/** Tag manifests (not children by digest) the destination has committed so far. */
function taggedManifestPuts(registry: TestRegistry): number {
  return registry.requestLog.entries.filter((e) => e.method === 'PUT' && /\/manifests\/(?!sha256:)[^/]+$/.test(e.path) && e.status === 201).length
}

test('SIGKILL mid-run leaves a consistent destination; a re-run completes it exactly', {timeout: 150_000}, async () => {
  assert.ok(existsSync(path.join(ROOT, 'dist', 'commands', 'transfer.js')), 'run `npm run build` first')
  const total = corpus.entries.length
  assert.equal(total, 36)
  const ruleFile = await work.file('rules.yaml', corpus.repositories.map((r) => `${src.host}/${r}: ${dst.host}/${r}\n`).join(''))
  const securityFile = await work.file('security.yaml', plainEntries(src, dst))
  const args = ['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--routines', '4', '--qps', '100']

  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args], {
    cwd: ROOT,
    env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
  child.stdout.resume()
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.once('exit', (code, signal) => resolve({code, signal})))
  let done = false
  void exited.then(() => (done = true))

  // Kill once a few tags (but far from all) have landed.
  const deadline = Date.now() + 60_000
  while (!done && taggedManifestPuts(dst) < 6 && Date.now() < deadline) await sleep(10)
  assert.ok(!done, `ferry finished before it could be killed; slow it down:\n${stderr}`)
  child.kill('SIGKILL')
  const how = await exited
  assert.equal(how.signal, 'SIGKILL')
  const killedAt = taggedManifestPuts(dst)

  // Whatever made it is whole.
  const partial = await assertDestinationConsistent(dst)
  console.log(`killed after ${killedAt} tag manifest PUTs; destination holds ${partial.tags} of ${total} tags, ${partial.manifests} manifests, all complete`)
  assert.ok(partial.tags > 0 && partial.tags < total, `some but not all tags copied (${partial.tags})`)

  const rerun = await runCli([...args, '--quiet'], {timeoutMs: 120_000})
  assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr)
  const last = lines(rerun.stdout).at(-1) ?? ''
  const counts = /^Finished, 0 transfer jobs failed, 0 jobs generate failed \((\d+) copied, (\d+) skipped/.exec(last)
  assert.ok(counts, last)
  assert.equal(Number(counts[1]) + Number(counts[2]), total, last)
  assert.ok(Number(counts[2]) >= partial.tags, `tags already there are skipped: ${last}`)

  await assertDestinationConsistent(dst)
  for (const repository of corpus.repositories) {
    assert.deepEqual((await listTags(dst, repository)).sort(), corpus.tags(repository).sort(), repository)
  }
  for (const entry of corpus.entries) {
    assert.equal(await skopeoDigest(dst, `${entry.repository}:${entry.tag}`), entry.digest, `${entry.repository}:${entry.tag}`)
  }
})

// Ctrl-C and `kill`: the shell's 130 / 143, the jobs in flight listed as interrupted (not failed),
// the --report file written all the same, and a destination a re-run completes.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(`${signal} mid-run: exit ${code}, jobs in flight "interrupted", the report written, a re-run completes`, {timeout: 150_000}, async () => {
    const prefix = signal.toLowerCase()
    const rules = corpus.repositories.map((r) => `${src.host}/${r}: ${dst.host}/${prefix}/${r}\n`).join('')
    const ruleFile = await work.file(`${prefix}-rules.yaml`, rules)
    const securityFile = await work.file(`${prefix}-security.yaml`, plainEntries(src, dst))
    const report = path.join(work.dir, `${prefix}-report.json`)
    // Slow enough that several jobs are always in flight when the signal comes.
    const args = ['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--routines', '4', '--limit-rate', '4MiB']
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args, '--report', report], {
      cwd: ROOT,
      env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')))
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)))
    const landed = () => (output.match(/^\[\d+\] copied /gm) ?? []).length
    const deadline = Date.now() + 60_000
    while (landed() < 3 && Date.now() < deadline) await sleep(10)
    assert.ok(landed() >= 3, `some jobs done before the signal:\n${output}`)
    child.kill(signal)
    assert.equal(await exited, code, output)

    assert.doesNotMatch(output, /aborted/, output)
    assert.doesNotMatch(output, /^\[\d+\] failed /m, output)
    const cut = output.match(/^\[\d+\] interrupted \S+ → \S+$/gm) ?? []
    assert.ok(cut.length >= 1, `jobs in flight are listed as interrupted:\n${output}`)
    assert.match(output, new RegExp(`^Interrupted jobs \\(${cut.length}\\), to finish with the same command:$`, 'm'), output)
    assert.match(
      output,
      new RegExp(`^Interrupted, 0 transfer jobs failed, 0 jobs generate failed \\(\\d+ copied, \\d+ skipped, ${cut.length} interrupted, `, 'm'),
      output,
    )
    const written = JSON.parse(await readFile(report, 'utf8')) as {
      interrupted: boolean
      summary: {failed: number; interruptedJobs: number; interrupted: boolean}
      jobs: {status: string; error: {code: string} | null}[]
    }
    assert.equal(written.interrupted, true)
    assert.equal(written.summary.interrupted, true)
    assert.equal(written.summary.failed, 0)
    assert.equal(written.summary.interruptedJobs, cut.length)
    assert.equal(written.jobs.filter((job) => job.status === 'interrupted').length, cut.length)
    assert.ok(written.jobs.length < corpus.entries.length, 'the stop left work undone')

    await assertDestinationConsistent(dst)
    const rerun = await runCli([...args.filter((arg) => arg !== '--limit-rate' && arg !== '4MiB'), '--quiet'], {timeoutMs: 120_000})
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr)
    for (const entry of corpus.entries) {
      assert.equal(await skopeoDigest(dst, `${prefix}/${entry.repository}:${entry.tag}`), entry.digest, `${entry.repository}:${entry.tag}`)
    }
  })
}
