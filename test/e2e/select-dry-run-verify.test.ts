// --dryRun writes nothing; verify finds a missing tag and a lost blob; --deep repairs the blob.
import assert from 'node:assert/strict'
import {readdir, rm, stat} from 'node:fs/promises'
import path from 'node:path'
import {after, before, test} from 'node:test'

import {pushImage, pushIndex, randomLayer, skopeoDigest, skopeoTags, startRegistry, type PushedIndex, type TestRegistry} from '../harness/index.js'
import {plainEntries, runCli, workDir} from './support.js'

let source: TestRegistry
let destination: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let security: string
let rules: string
let index: PushedIndex

before(async () => {
  ;[source, destination] = await Promise.all([startRegistry(), startRegistry()])
  work = await workDir()
  security = await work.file('security.yaml', plainEntries(source, destination))
  for (const tag of ['1.0.0', '1.1.0', 'edge']) await pushImage(source, 'team/app', tag, {layers: [randomLayer(256, `team/app:${tag}`)]})
  index = await pushIndex(source, 'team/multi', 'v1', ['linux/amd64', 'linux/arm64'], 'oci', {layerSize: 256})
  rules = await work.file(
    'rules.yaml',
    `${source.host}/team/app: ${destination.host}/copy/app\n${source.host}/team/multi:v1: ${destination.host}/copy/multi:v1\n`,
  )
})

after(async () => {
  await Promise.all([source?.stop(), destination?.stop(), work?.cleanup()])
})

/** Every file under the storage root with its size: what a write would change. */
async function storage(registry: TestRegistry): Promise<string[]> {
  const out: string[] = []
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, {withFileTypes: true})) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) await walk(full)
      else out.push(`${path.relative(registry.storageDir, full)} ${(await stat(full)).size}`)
    }
  }
  await walk(registry.storageDir)
  return out.sort()
}

const catalog = async (registry: TestRegistry) => (await (await fetch(`${registry.url}/v2/_catalog`)).json()) as {repositories: string[]}
const cli = (...args: string[]) => runCli([...args, '--ruleFile', rules, '--securityFile', security])

test('--dryRun lists every job and leaves catalog, tags, storage and the access log without a write', async () => {
  // Part of the work is already done, so the plan holds both kinds of jobs.
  const part = await work.file('part.yaml', `${source.host}/team/app: ${destination.host}/copy/app\n`)
  const first = await runCli(['transfer', '--ruleFile', part, '--securityFile', security, '--includeTags', '^1\\.0\\.0$'])
  assert.equal(first.code, 0, first.stderr)
  await destination.requestLog.settle()
  destination.requestLog.clear()
  const before = {files: await storage(destination), catalog: await catalog(destination), tags: await skopeoTags(destination, 'copy/app')}

  for (const flag of ['--dryRun', '--dry-run']) {
    const run = await cli('transfer', flag, '--json')
    assert.equal(run.code, 0, run.stderr)
    const report = JSON.parse(run.stdout)
    const plan = Object.fromEntries(
      report.jobs.map((r: {destination: string; status: string; sourceDigest: string}) => [r.destination.replace(`${destination.host}/`, ''), r]),
    )
    assert.deepEqual(Object.keys(plan).sort(), ['copy/app:1.0.0', 'copy/app:1.1.0', 'copy/app:edge', 'copy/multi:v1'])
    assert.equal(plan['copy/app:1.0.0'].status, 'skipped')
    assert.equal(plan['copy/app:1.0.0'].skipReason, 'same digest')
    for (const name of ['copy/app:1.1.0', 'copy/app:edge', 'copy/multi:v1']) {
      assert.equal(plan[name].status, 'planned', name)
      assert.match(plan[name].sourceDigest, /^sha256:[0-9a-f]{64}$/)
    }
    assert.equal(plan['copy/multi:v1'].sourceDigest, index.digest)
    assert.equal(report.summary.dryRun, true)
    assert.equal(report.summary.planned, 3)
  }
  const text = await cli('transfer', '--dryRun')
  assert.equal(text.code, 0)
  assert.match(
    text.stdout + text.stderr,
    new RegExp(`planned ${source.host}/team/multi:v1 → ${destination.host}/copy/multi:v1 ${index.digest} \\(new at the destination\\)`),
  )
  assert.match(text.stdout + text.stderr, /Dry run: nothing was written; 3 jobs would copy, 1 would be skipped, 0 failed while planning/)

  await destination.requestLog.settle()
  assert.deepEqual(
    destination.requestLog.entries.filter((e) => !['GET', 'HEAD'].includes(e.method)),
    [],
  )
  assert.ok(destination.requestLog.count({method: 'HEAD'}) > 0, 'the plan did look at the destination')
  assert.deepEqual(await storage(destination), before.files)
  assert.deepEqual(await catalog(destination), before.catalog)
  assert.deepEqual(await skopeoTags(destination, 'copy/app'), before.tags)
})

test('verify names a missing tag and passes after the re-run', async () => {
  const run = await cli('verify')
  assert.equal(run.code, 1)
  const out = run.stdout + run.stderr
  assert.match(out, new RegExp(`^missing manifest ${destination.host}/copy/app:1\\.1\\.0 \\(source sha256:[0-9a-f]{64}\\)`, 'm'))
  assert.match(out, new RegExp(`^missing manifest ${destination.host}/copy/multi:v1 `, 'm'))
  assert.match(out, /^Incomplete: 1 of 4 images verified at the destination, 3 incomplete/m)

  const copy = await cli('transfer')
  assert.equal(copy.code, 0, copy.stderr)
  const again = await cli('verify')
  assert.equal(again.code, 0, again.stdout + again.stderr)
  assert.match(again.stdout + again.stderr, /^Complete: 4 of 4 images verified/m)
})

test('verify names a blob lost from a child manifest; only --deep repairs it', async () => {
  const arm = index.children[1]
  const lost = arm.layers[1].digest
  const hex = lost.slice('sha256:'.length)
  await rm(path.join(destination.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex), {recursive: true})
  assert.equal((await fetch(`${destination.url}/v2/copy/multi/blobs/${lost}`, {method: 'HEAD'})).status, 404)

  const found = await cli('verify')
  assert.equal(found.code, 1)
  const lines = (found.stdout + found.stderr).split('\n').filter((line) => line.startsWith('missing') || line.startsWith('different'))
  assert.deepEqual(lines, [`missing blob ${destination.host}/copy/multi@${lost} of manifest ${arm.digest} (linux/arm64) (for ${source.host}/team/multi:v1)`])

  const shallow = await cli('transfer', '--json')
  assert.equal(shallow.code, 0)
  assert.ok(
    JSON.parse(shallow.stdout).jobs.every((r: {status: string}) => r.status === 'skipped'),
    'the tag digest matches, so a plain re-run skips',
  )
  assert.equal((await cli('verify')).code, 1)

  const deep = await cli('transfer', '--deep', '--json')
  assert.equal(deep.code, 0, deep.stderr)
  const repaired = JSON.parse(deep.stdout).jobs.filter((r: {status: string}) => r.status === 'copied')
  assert.deepEqual(
    repaired.map((r: {destination: string; blobs: {uploaded: number}}) => [r.destination, r.blobs.uploaded]),
    [[`${destination.host}/copy/multi:v1`, 1]],
  )
  const after = await cli('verify')
  assert.equal(after.code, 0, after.stdout + after.stderr)
  assert.equal(await skopeoDigest(destination, 'copy/multi:v1'), index.digest)
})
