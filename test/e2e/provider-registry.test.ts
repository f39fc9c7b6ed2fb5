// The `registry` provider end to end: a whole plain registry (catalog paged with Link) into
// another, through the CLI, checked with skopeo. Real registries only.
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {seedCorpus, type Corpus} from '../harness/images.js'
import {startRegistry, type TestRegistry} from '../harness/registry.js'
import {skopeoDigest, skopeoRawManifest, skopeoTags} from '../harness/skopeo.js'
import {plainEntries, runCli, workDir} from './support.js'

let source: TestRegistry
let destination: TestRegistry
let corpus: Corpus
let work: Awaited<ReturnType<typeof workDir>>

before(async () => {
  // A catalog page of at most 7 entries, so 52 repositories take 8 pages of Link-following.
  source = await startRegistry({configure: (config) => (config.catalog = {maxentries: 7})})
  destination = await startRegistry()
  const names = Array.from({length: 52}, (_, i) => (i % 2 ? `team-${i % 4}/app-${i}` : `solo-${i}`))
  corpus = await seedCorpus(source, {repositories: names, tagsPerRepo: 1, layerSize: 512, indexEvery: 10})
  work = await workDir()
})

after(async () => {
  await source?.stop()
  await destination?.stop()
  await work?.cleanup()
})

test('migrate --from registry copies every repository of a 52-repository registry, then nothing', async () => {
  const security = await work.file('security.yaml', plainEntries(source, destination))
  const args = ['migrate', '--from', 'registry', '--fromRegistry', source.host, '--to', 'registry', '--toRegistry', destination.host]
  args.push('--toNamespace', 'mirror', '--securityFile', security, '--routines', '8', '--json')
  await source.requestLog.settle()
  source.requestLog.clear()
  const first = await runCli(args, {timeoutMs: 120_000})
  assert.equal(first.code, 0, first.stderr)
  const report = JSON.parse(first.stdout)
  assert.equal(report.summary.copied, corpus.entries.length)
  await source.requestLog.settle()
  assert.ok(source.requestLog.count({method: 'GET', path: /\/v2\/_catalog/}) >= 8, 'the catalog was followed page by page')

  for (const entry of corpus.entries) {
    // --toNamespace replaces the first path component; a one-component name is prefixed.
    const parts = entry.repository.split('/')
    const target = ['mirror', ...(parts.length > 1 ? parts.slice(1) : parts)].join('/')
    assert.equal(await skopeoDigest(destination, `${target}:${entry.tag}`), entry.digest, `${entry.repository}:${entry.tag}`)
  }

  await destination.requestLog.settle()
  destination.requestLog.clear()
  const second = await runCli(args, {timeoutMs: 120_000})
  assert.equal(second.code, 0, second.stderr)
  const again = JSON.parse(second.stdout)
  assert.equal(again.summary.skipped, corpus.entries.length)
  assert.equal(again.summary.copied, 0)
  await destination.requestLog.settle()
  for (const method of ['PUT', 'POST', 'PATCH']) assert.equal(destination.requestLog.count({method}), 0, `${method} on a second run`)
})

test('a source registry without a reachable catalog is a one-line error, exit 2', async () => {
  const security = await work.file('security-missing.yaml', plainEntries(source, destination))
  const run = await runCli([
    'migrate',
    '--from',
    'registry',
    '--fromRegistry',
    '127.0.0.1:1',
    '--to',
    'registry',
    '--toRegistry',
    destination.host,
    '--securityFile',
    security,
  ])
  assert.notEqual(run.code, 0)
  assert.doesNotMatch(run.stderr, /\n\s+at /)
})

test('migrate takes transfer’s selection and plan flags: --latest, --platform, --dryRun (writes nothing), --semver errors', async () => {
  const versions = await startRegistry()
  const target = await startRegistry()
  try {
    // Every image an index, three versions per repository.
    const seeded = await seedCorpus(versions, {repositories: 3, tagsPerRepo: 3, layerSize: 256, indexEvery: 1})
    const security = await work.file('security-selection.yaml', plainEntries(versions, target))
    const base = ['migrate', '--from', 'registry', '--fromRegistry', versions.host, '--to', 'registry', '--toRegistry', target.host, '--securityFile', security]
    const selected = [...base, '--latest', '1', '--platform', 'linux/arm64', '--json']

    const planned = await runCli([...selected, '--dryRun'], {timeoutMs: 60_000})
    assert.equal(planned.code, 0, planned.stderr)
    const plan = JSON.parse(planned.stdout)
    assert.deepEqual(
      plan.jobs.map((r: {status: string}) => r.status),
      ['planned', 'planned', 'planned'],
    )
    await target.requestLog.settle()
    for (const method of ['PUT', 'POST', 'PATCH', 'DELETE']) assert.equal(target.requestLog.count({method}), 0, `${method} in a dry run`)

    const copied = await runCli(selected, {timeoutMs: 60_000})
    assert.equal(copied.code, 0, copied.stderr)
    assert.equal(JSON.parse(copied.stdout).summary.copied, 3)
    for (const repository of seeded.repositories) {
      assert.deepEqual(await skopeoTags(target, repository), ['1.2.0'], `${repository}: only the highest version`)
      const index = JSON.parse((await skopeoRawManifest(target, `${repository}:1.2.0`)).toString('utf8')) as {manifests: {platform: {architecture: string}}[]}
      assert.deepEqual(
        index.manifests.map((m) => m.platform.architecture),
        ['arm64'],
        `${repository}: only arm64`,
      )
    }

    const bad = await runCli([...base, '--semver', 'not a range'], {timeoutMs: 30_000})
    assert.equal(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /--semver/)
    assert.doesNotMatch(bad.stderr, /\n\s+at /)
  } finally {
    await versions.stop()
    await target.stop()
  }
})
