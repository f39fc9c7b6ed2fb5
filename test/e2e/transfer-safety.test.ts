// The copy order is the safety property: a blob whose bytes do not match its digest never lands at
// the destination, and neither does a manifest that would reference it. One failing job does not
// stop the others.
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomBlob, randomLayer, rawRequest, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {transfer} from '../../src/index.js'
import {describeReport, plainEntries, resultFor, ruleYaml, workDir} from './support.js'

function blobDataFile(registry: TestRegistry, digest: string): string {
  const hex = digest.slice('sha256:'.length)
  return path.join(registry.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data')
}

describe('transfer: corrupted source blob', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>
  let corrupt: PushedImage
  let healthy: PushedImage
  let badDigest: string

  before(async () => {
    ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
    corrupt = await pushImage(src, 'safety/app', 'bad', {
      layers: [randomLayer(4000, 'safety:good-layer'), randomLayer(6000, 'safety:bad-layer')],
    })
    healthy = await pushImage(src, 'safety/app', 'good', {layers: [randomLayer(3000, 'safety:healthy')]})

    // Same length, other bytes: only the digest can tell.
    badDigest = corrupt.layers[1]!.digest
    const file = blobDataFile(src, badDigest)
    const original = await readFile(file)
    const replacement = randomBlob(original.length, 'safety:replacement')
    assert.equal(replacement.length, original.length)
    assert.notDeepEqual(replacement, original)
    await writeFile(file, replacement)
    // The registry serves the corrupted bytes under the old digest, with the old size.
    const served = await rawRequest(src, 'GET', `/v2/safety/app/blobs/${badDigest}`)
    assert.equal(served.status, 200)
    assert.deepEqual(served.body, replacement)
  })
  after(async () => {
    await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
  })

  for (const mode of ['streamed PUT', 'chunked PATCH'] as const) {
    test(`${mode}: the job fails with DIGEST_MISMATCH; no manifest, no corrupt blob at the destination`, async () => {
      const repository = mode === 'streamed PUT' ? 'streamed/app' : 'chunked/app'
      const ruleFile = await work.file(
        `${mode === 'streamed PUT' ? 'streamed' : 'chunked'}.yaml`,
        ruleYaml([[`${src.host}/safety/app:bad,good`, `${dst.host}/${repository}`]]),
      )
      const securityFile = await work.file('security.yaml', plainEntries(src, dst))
      const report = await transfer({
        ruleFile,
        securityFile,
        retry: 2,
        retryBaseMs: 10,
        routines: 2,
        ...(mode === 'chunked PATCH' ? {chunkSize: 1024} : {}),
      })

      const failed = resultFor(report, dst, `${repository}:bad`)
      assert.equal(failed.status, 'failed', describeReport(report))
      assert.equal(failed.error?.code, 'DIGEST_MISMATCH', describeReport(report))
      assert.ok(failed.error!.message.includes(badDigest), failed.error!.message)
      assert.equal(failed.attempts, 3, 'a digest mismatch is retried, then given up')
      assert.equal(report.summary.failed, 1)

      // The other job of the same rule went through.
      assert.equal(resultFor(report, dst, `${repository}:good`).status, 'copied', describeReport(report))
      assert.equal(await skopeoDigest(dst, `${repository}:good`), healthy.digest)

      // No manifest names the image, so nobody can pull a half-copied or corrupt image.
      const head = await rawRequest(dst, 'HEAD', `/v2/${repository}/manifests/bad`)
      assert.equal(head.status, 404)
      const byDigest = await rawRequest(dst, 'HEAD', `/v2/${repository}/manifests/${corrupt.digest}`)
      assert.equal(byDigest.status, 404)
      await assert.rejects(skopeoDigest(dst, `${repository}:bad`))

      // The corrupt bytes were never committed: not linked into the repository, not in storage.
      const blob = await rawRequest(dst, 'HEAD', `/v2/${repository}/blobs/${badDigest}`)
      assert.equal(blob.status, 404)
      assert.equal(existsSync(blobDataFile(dst, badDigest)), false, 'no blob data under the corrupt digest in destination storage')
    })
  }
})
