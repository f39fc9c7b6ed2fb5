// The `registry` provider end to end: a whole plain registry (catalog paged with Link) into
// another, through the CLI, checked with skopeo. Real registries only.
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {seedCorpus, type Corpus} from '../harness/images.js'
import {startRegistry, type TestRegistry} from '../harness/registry.js'
import {skopeoDigest} from '../harness/skopeo.js'
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
  const run = await runCli(['migrate', '--from', 'registry', '--fromRegistry', '127.0.0.1:1', '--to', 'registry', '--toRegistry', destination.host, '--securityFile', security])
  assert.notEqual(run.code, 0)
  assert.doesNotMatch(run.stderr, /\n\s+at /)
})
