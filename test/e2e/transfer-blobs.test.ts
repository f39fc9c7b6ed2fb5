// How blobs travel: mounted across destination repositories, shared under concurrency, and
// uploaded in PATCH chunks when asked.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomLayer, seedCorpus, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {transfer} from '../../src/index.js'
import {describeReport, plainEntries, resultFor, ruleYaml, workDir} from './support.js'

describe('transfer: blobs', () => {
  let src: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>

  before(async () => {
    ;[src, work] = await Promise.all([startRegistry(), workDir()])
  })
  after(async () => {
    await Promise.all([src?.stop(), work?.cleanup()])
  })

  test('a layer already copied into one destination repository is mounted into the next', async () => {
    const dst = await startRegistry()
    try {
      const shared = [randomLayer(3000, 'mount:shared-1'), randomLayer(2500, 'mount:shared-2')]
      const one = await pushImage(src, 'mount/one', '1', {layers: [...shared, randomLayer(1000, 'mount:one')], labels: {n: '1'}})
      const two = await pushImage(src, 'mount/two', '1', {layers: [...shared, randomLayer(1000, 'mount:two')], labels: {n: '2'}})
      const ruleFile = await work.file(
        'mount.yaml',
        ruleYaml([
          [`${src.host}/mount/one:1`, `${dst.host}/m/one`],
          [`${src.host}/mount/two:1`, `${dst.host}/m/two`],
        ]),
      )
      const securityFile = await work.file('mount-security.yaml', plainEntries(src, dst))
      const report = await transfer({ruleFile, securityFile, routines: 1, retryBaseMs: 10})
      assert.equal(report.summary.copied, 2, describeReport(report))

      const first = resultFor(report, dst, 'm/one:1')
      const second = resultFor(report, dst, 'm/two:1')
      assert.deepEqual(first.blobs, {uploaded: 4, mounted: 0, existing: 0}, describeReport(report))
      assert.deepEqual(second.blobs, {uploaded: 2, mounted: 2, existing: 0}, describeReport(report))
      // Mounted bytes were not moved again.
      assert.equal(second.bytes, two.config.size + two.layers[2]!.size)

      const log = await dst.requestLog.settle()
      const mounts = log.filter((e) => e.method === 'POST' && /^\/v2\/m\/two\/blobs\/uploads\/\?.*mount=/.test(e.path))
      assert.equal(mounts.length, 2, JSON.stringify(log))
      assert.ok(
        mounts.every((e) => e.status === 201 && /from=m%2Fone/.test(e.path)),
        JSON.stringify(mounts),
      )

      assert.equal(await skopeoDigest(dst, 'm/one:1'), one.digest)
      assert.equal(await skopeoDigest(dst, 'm/two:1'), two.digest)
    } finally {
      await dst.stop()
    }
  })

  test('six repositories sharing layers, copied by eight routines, all arrive intact', async () => {
    const dst = await startRegistry()
    try {
      const corpus = await seedCorpus(src, {repositories: 6, tagsPerRepo: 3, layerSize: 1024, seed: 'concurrency'})
      const ruleFile = await work.file(
        'corpus.yaml',
        ruleYaml(corpus.repositories.map((repository) => [`${src.host}/${repository}`, `${dst.host}/mirror/${repository}`])),
      )
      const securityFile = await work.file('corpus-security.yaml', plainEntries(src, dst))
      const report = await transfer({ruleFile, securityFile, routines: 8, retryBaseMs: 10})

      assert.equal(report.generateFailures.length, 0, describeReport(report))
      assert.equal(report.summary.failed, 0, describeReport(report))
      assert.equal(report.summary.copied, corpus.entries.length, describeReport(report))
      assert.equal(corpus.entries.length, 18)
      assert.ok(corpus.entries.some((e) => e.kind === 'index'))
      for (const entry of corpus.entries) {
        const reference = `mirror/${entry.repository}:${entry.tag}`
        assert.equal(resultFor(report, dst, reference).digest, entry.digest, reference)
        assert.equal(await skopeoDigest(dst, reference), entry.digest, reference)
      }
      // One upload per distinct blob: every other need for it was met by a mount or found present.
      const uploaded = report.results.reduce((n, r) => n + r.blobs.uploaded, 0)
      assert.equal(uploaded, corpus.blobDigests.length, describeReport(report))
    } finally {
      await dst.stop()
    }
  })

  test('chunkSize uploads each blob in PATCH chunks and keeps every digest', async () => {
    const dst = await startRegistry()
    try {
      const image = await pushImage(src, 'chunked/app', 'c', {
        flavour: 'oci',
        layers: [randomLayer(5000, 'chunk:1'), randomLayer(5200, 'chunk:2')],
      })
      const ruleFile = await work.file('chunk.yaml', ruleYaml([[`${src.host}/chunked/app:c`, `${dst.host}/chunked/copy`]]))
      const securityFile = await work.file('chunk-security.yaml', plainEntries(src, dst))
      const chunkSize = 1500
      const report = await transfer({ruleFile, securityFile, chunkSize, retryBaseMs: 10})
      assert.equal(report.summary.copied, 1, describeReport(report))
      assert.equal(await skopeoDigest(dst, 'chunked/copy:c'), image.digest)
      for (const layer of image.layers) {
        assert.ok(layer.size > 3 * chunkSize, `layer of ${layer.size} bytes needs several chunks`)
      }

      const log = await dst.requestLog.settle()
      const patches = log.filter((e) => e.method === 'PATCH' && /^\/v2\/chunked\/copy\/blobs\/uploads\//.test(e.path))
      const expected = image.blobs.reduce((n, b) => n + Math.ceil(b.size / chunkSize), 0)
      assert.equal(patches.length, expected, JSON.stringify(log))
      assert.ok(
        patches.every((e) => e.status === 202),
        JSON.stringify(patches),
      )
      // Each blob is committed by one PUT after its chunks.
      assert.equal(log.filter((e) => e.method === 'PUT' && /\/blobs\/uploads\//.test(e.path) && e.status === 201).length, image.blobs.length)
    } finally {
      await dst.stop()
    }
  })
  test('limitRate holds blob bytes to the rate, every digest kept', async () => {
    const dst = await startRegistry()
    try {
      const image = await pushImage(src, 'rate/app', '1', {layers: [randomLayer(1024 * 1024, 'rate:1')]})
      const ruleFile = await work.file('rate.yaml', ruleYaml([[`${src.host}/rate/app:1`, `${dst.host}/rate/app`]]))
      const securityFile = await work.file('rate-security.yaml', plainEntries(src, dst))
      const started = performance.now()
      const report = await transfer({ruleFile, securityFile, bytesPerSecond: 2 * 1024 * 1024, retryBaseMs: 10})
      const elapsed = performance.now() - started
      assert.equal(report.summary.copied, 1, describeReport(report))
      // A lower bound only: 1 MiB at 2 MiB/s, less the 50 ms burst the cap allows.
      assert.ok(elapsed >= 400, `1 MiB at 2 MiB/s took only ${elapsed.toFixed(0)} ms`)
      assert.equal(await skopeoDigest(dst, 'rate/app:1'), image.digest)
    } finally {
      await dst.stop()
    }
  })
})
