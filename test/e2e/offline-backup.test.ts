// `ferry backup` of a whole registry (catalog paged with Link) into one layout with backup.json,
// restored by `ferry load` into an empty registry and checked tag by tag with skopeo.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, test} from 'node:test'

import {seedCorpus, skopeoDigest, skopeoTags, startRegistry, type Corpus, type TestRegistry} from '../harness/index.js'
import {checkLayout} from './layout-check.js'
import {lines, plainEntries, runCli, workDir} from './support.js'

let src: TestRegistry
let dst: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let corpus: Corpus

before(async () => {
  // Catalog pages of at most 6: 22 repositories take 4 pages of Link-following.
  ;[src, dst, work] = await Promise.all([startRegistry({configure: (config) => (config.catalog = {maxentries: 6})}), startRegistry(), workDir()])
  corpus = await seedCorpus(src, {repositories: 22, tagsPerRepo: 2, layerSize: 512, indexEvery: 5, seed: 'backup', aliasLatest: true})
})

after(async () => {
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

test('backup of a 22-repository registry, restored to an empty registry: every tag, every digest', {timeout: 180_000}, async () => {
  assert.ok(corpus.repositories.length >= 20)
  const layout = path.join(work.dir, 'backup')
  const security = await work.file('security.yaml', plainEntries(src, dst))
  const run = await runCli(['backup', '--source', src.host, '--output', layout, '--securityFile', security, '--routines', '4', '--quiet'], {timeoutMs: 150_000})
  assert.equal(run.code, 0, run.stdout + run.stderr)
  assert.match(lines(run.stdout).at(-1) ?? '', new RegExp(`\\(${corpus.entries.length} copied, 0 skipped`))

  const state = await checkLayout(layout)
  assert.deepEqual(state.strays, [])
  const listing = JSON.parse(await readFile(path.join(layout, 'backup.json'), 'utf8'))
  assert.equal(listing.source, src.host)
  const expected = corpus.entries
    .map((entry) => ({reference: `${src.host}/${entry.repository}:${entry.tag}`, digest: entry.digest}))
    .sort((a, b) => a.reference.localeCompare(b.reference))
  const listed = listing.images
    .map((image: {reference: string; digest: string}) => ({reference: image.reference, digest: image.digest}))
    .sort((a: {reference: string}, b: {reference: string}) => a.reference.localeCompare(b.reference))
  assert.deepEqual(listed, expected)
  for (const image of listing.images as Array<{reference: string; size: number}>) {
    const entry = corpus.entries.find((e) => `${src.host}/${e.repository}:${e.tag}` === image.reference)!
    const pushed = entry.pushed
    const manifests = pushed.kind === 'index' ? [pushed.manifest, ...pushed.children.map((child) => child.manifest)] : [pushed.manifest]
    const total = manifests.reduce((sum, bytes) => sum + bytes.length, 0) + pushed.blobs.reduce((sum, blob) => sum + blob.size, 0)
    assert.equal(image.size, total, `${image.reference}: manifests and blobs, each once`)
  }

  // --registry without --ns keeps every repository path, so nested names stay apart.
  const restore = await runCli(['load', layout, '--registry', dst.host, '--securityFile', security, '--routines', '4', '--quiet'], {timeoutMs: 150_000})
  assert.equal(restore.code, 0, restore.stdout + restore.stderr)
  for (const repository of corpus.repositories) {
    assert.deepEqual((await skopeoTags(dst, repository)).sort(), corpus.tags(repository).sort(), repository)
  }
  for (const entry of corpus.entries) {
    assert.equal(await skopeoDigest(dst, `${entry.repository}:${entry.tag}`), entry.digest, `${entry.repository}:${entry.tag}`)
  }

  // A second backup run finds everything saved.
  const again = await runCli(['backup', '--source', src.host, '--output', layout, '--securityFile', security, '--quiet'], {timeoutMs: 150_000})
  assert.equal(again.code, 0, again.stderr)
  assert.match(lines(again.stdout).at(-1) ?? '', new RegExp(`\\(0 copied, ${corpus.entries.length} skipped`))
})

test('backup of one namespace takes only its repositories (into a tar.gz here)', {timeout: 60_000}, async () => {
  const layout = path.join(work.dir, 'team.tar.gz')
  const security = await work.file('security-ns.yaml', plainEntries(src))
  const run = await runCli(['backup', '--source', `${src.host}/team`, '--output', layout, '--securityFile', security, '--quiet', '--json'])
  assert.equal(run.code, 0, run.stderr)
  const team = corpus.entries.filter((entry) => entry.repository.startsWith('team/'))
  assert.ok(team.length > 0 && team.length < corpus.entries.length)
  const listing = JSON.parse(execFileSync('tar', ['-xzOf', layout, 'backup.json'], {encoding: 'utf8'}))
  assert.deepEqual(
    listing.images.map((image: {reference: string}) => image.reference).sort(),
    team.map((entry) => `${src.host}/${entry.repository}:${entry.tag}`).sort(),
  )

  const bad = await runCli(['backup', '--source', 'not a host', '--output', layout])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /^Error: --source "not a host": invalid registry/)
})
