// Two tags of one multi-arch index copied at once: each child manifest is pushed once, and no
// index push meets a child being pushed again (CNCF Distribution then answers 400 DIGEST_INVALID).
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import {pushIndex, putManifest, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {runTransfer} from '../../src/engine/run.js'
import type {Rule} from '../../src/config/rules.js'
import type {CredentialStore} from '../../src/config/security.js'
import {describeReport} from './support.js'

let source: TestRegistry
let destination: TestRegistry
const plain: CredentialStore = {lookup: () => ({insecure: true, skipTlsVerify: false}), secrets: () => []}

before(async () => {
  ;[source, destination] = await Promise.all([startRegistry(), startRegistry()])
})
after(async () => {
  await Promise.all([source?.stop(), destination?.stop()])
})

test('aliased index tags copied concurrently: every child pushed once per repository, every job copied', async () => {
  const indexes = []
  const rules: Rule[] = []
  for (let i = 0; i < 6; i++) {
    const repository = `alias/app${i}`
    const index = await pushIndex(source, repository, '1.1.0', ['linux/amd64', 'linux/arm64', 'linux/arm/v7'], 'oci', {layerSize: 1024})
    await putManifest(source, repository, 'latest', index)
    indexes.push(index)
    rules.push({
      text: repository,
      source: {registry: source.host, repository, tags: ['1.1.0', 'latest']},
      destination: {registry: destination.host, repository},
    })
  }
  destination.requestLog.clear()
  const report = await runTransfer({rules, credentials: plain, routines: 8, retry: 0})
  assert.equal(report.summary.copied, 12, describeReport(report))

  const log = await destination.requestLog.settle()
  for (const [i, index] of indexes.entries()) {
    for (const child of index.children) {
      const puts = log.filter((entry) => entry.method === 'PUT' && entry.path === `/v2/alias/app${i}/manifests/${child.digest}`)
      assert.equal(puts.length, 1, `child ${child.digest} of alias/app${i} pushed ${puts.length} times`)
    }
    assert.equal(await skopeoDigest(destination, `alias/app${i}:1.1.0`), index.digest)
    assert.equal(await skopeoDigest(destination, `alias/app${i}:latest`), index.digest)
  }
})
