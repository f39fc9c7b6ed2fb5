// `kill -9` in the middle of a run: the destination must never hold a manifest whose blobs or
// children are missing (the copy order is the only thing standing between a crash and a broken
// image), and running the same rules again finishes the job with every digest exact.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
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
