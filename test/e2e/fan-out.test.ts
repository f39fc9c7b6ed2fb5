// One source, several destinations: the source's blobs are read once for all of them, each
// destination gets its own result, and a broken destination does not stop the healthy ones.
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import {pushImage, pushIndex, randomLayer, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {runTransfer} from '../../src/engine/run.js'
import type {Rule} from '../../src/config/rules.js'
import type {CredentialStore} from '../../src/config/security.js'
import {describeReport} from './support.js'

let source: TestRegistry
let first: TestRegistry
let second: TestRegistry
let locked: TestRegistry

const plain: CredentialStore = {lookup: () => ({insecure: true, skipTlsVerify: false}), secrets: () => []}

before(async () => {
  ;[source, first, second, locked] = await Promise.all([startRegistry(), startRegistry(), startRegistry(), startRegistry({auth: 'htpasswd'})])
})
after(async () => {
  await Promise.all([source?.stop(), first?.stop(), second?.stop(), locked?.stop()])
})

function rulesTo(repository: string, tags: string[], destinations: Array<[TestRegistry, string]>): Rule[] {
  return destinations.map(([registry, target]) => ({
    text: `${source.host}/${repository}`,
    source: {registry: source.host, repository, tags},
    destination: {registry: registry.host, repository: target},
  }))
}

test('a source listed with three destinations is read once and lands in each of them', async () => {
  const index = await pushIndex(source, 'fan/app', 'v1', ['linux/amd64', 'linux/arm64'], 'oci', {layerSize: 2048})
  const single = await pushImage(source, 'fan/app', 'v2', {layers: [randomLayer(3000, 'fan:v2')]})
  source.requestLog.clear()

  const rules = rulesTo(
    'fan/app',
    ['v1', 'v2'],
    [
      [first, 'a/app'],
      [first, 'b/app'],
      [second, 'c/app'],
    ],
  )
  const report = await runTransfer({rules, credentials: plain, routines: 2, retryBaseMs: 10})
  assert.equal(report.summary.copied, 6, describeReport(report))
  assert.equal(report.results.length, 6)

  for (const [registry, repository] of [
    [first, 'a/app'],
    [first, 'b/app'],
    [second, 'c/app'],
  ] as const) {
    assert.equal(await skopeoDigest(registry, `${repository}:v1`), index.digest)
    assert.equal(await skopeoDigest(registry, `${repository}:v2`), single.digest)
  }
  const log = await source.requestLog.settle()
  const blobGets = log.filter((entry) => entry.method === 'GET' && entry.path.includes('/blobs/'))
  const distinct = new Set([...index.blobs, ...single.blobs].map((blob) => blob.digest))
  assert.equal(blobGets.length, distinct.size, `each source blob read once: ${JSON.stringify(blobGets)}`)

  // Nothing to do the second time, at any of the three.
  const again = await runTransfer({rules, credentials: plain, routines: 2})
  assert.equal(again.summary.skipped, 6, describeReport(again))
})

test('a destination that refuses the push fails on its own; the others are copied', async () => {
  const image = await pushImage(source, 'fan/tool', '1.0', {layers: [randomLayer(2500, 'fan:tool')]})
  const rules = rulesTo(
    'fan/tool',
    ['1.0'],
    [
      [first, 'ok/tool'],
      [locked, 'no/tool'],
      [second, 'ok/tool'],
    ],
  )
  const report = await runTransfer({rules, credentials: plain, routines: 1, retry: 1, retryBaseMs: 10})
  const byDestination = new Map(report.results.map((result) => [result.destination, result]))
  assert.equal(byDestination.get(`${first.host}/ok/tool:1.0`)?.status, 'copied', describeReport(report))
  assert.equal(byDestination.get(`${second.host}/ok/tool:1.0`)?.status, 'copied', describeReport(report))
  const refused = byDestination.get(`${locked.host}/no/tool:1.0`)
  assert.equal(refused?.status, 'failed', describeReport(report))
  assert.match(refused?.error?.code ?? '', /UNAUTHORIZED|DENIED/)
  assert.equal(await skopeoDigest(first, 'ok/tool:1.0'), image.digest)
  assert.equal(await skopeoDigest(second, 'ok/tool:1.0'), image.digest)
})
