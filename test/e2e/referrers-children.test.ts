// Referrers beyond the top manifest, against real Distribution 2.8 (no referrers API): a signature
// over one platform manifest of an index comes with the index (and a run that finds the index
// equal asks nothing about its platforms); and the fallback index at a destination where a
// referrer manifest was deleted is still merged (Distribution refuses an index naming it).
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {
  cosignSignature,
  fallbackIndexEntries,
  pushArtifact,
  pushFallbackIndex,
  referrer,
  SBOM_TYPE,
  SIGNATURE_TYPE,
  fallbackTag,
  cosignTag,
} from '../harness/artifacts.js'
import {pushImage, pushIndex, randomLayer, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {plainEntries, runCli, workDir} from './support.js'

let src: TestRegistry
let dst: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let security: string

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
  security = await work.file('security.yaml', plainEntries(src, dst))
})

after(async () => {
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

const transfer = async (rules: string, ...flags: string[]) => {
  const file = await work.file(`rules-${Math.random().toString(36).slice(2)}.yaml`, rules)
  const run = await runCli(['transfer', '--ruleFile', file, '--securityFile', security, '--json', ...flags])
  return {...run, report: run.stdout ? JSON.parse(run.stdout) : undefined}
}

const indexAt = fallbackIndexEntries

test("the referrers of an index's platform manifests come with it; a run finding the index equal asks nothing of its platforms", async () => {
  const multi = await pushIndex(src, 'team/multi', '1.0', ['linux/amd64', 'linux/arm64'], 'oci', {layerSize: 256})
  const [amd64, arm64] = multi.children
  const amd64Signature = await pushArtifact(src, 'team/multi', cosignSignature('team/multi', amd64!.digest), `${cosignTag(amd64!.digest)}`)
  const arm64Sbom = await pushArtifact(src, 'team/multi', referrer(arm64!, SBOM_TYPE, '{"spdxVersion":"SPDX-2.3","arch":"arm64"}'))
  await pushFallbackIndex(src, 'team/multi', arm64!.digest, [arm64Sbom])

  const rules = `${src.host}/team/multi:1.0: ${dst.host}/team/multi:1.0\n`
  const run = await transfer(rules)
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.report.jobs[0].status, 'copied')
  assert.equal(run.report.jobs[0].referrers.copied, 2)
  assert.equal(await skopeoDigest(dst, 'team/multi:1.0'), multi.digest)
  assert.equal(await skopeoDigest(dst, `team/multi:${cosignTag(amd64!.digest)}`), amd64Signature.digest)
  assert.equal(await skopeoDigest(dst, `team/multi@${arm64Sbom.digest}`), arm64Sbom.digest)
  assert.deepEqual(await indexAt(dst, 'team/multi', arm64!.digest), [arm64Sbom.digest])

  // The cost rule: the index found equal, nothing is asked about its platform manifests.
  await src.requestLog.settle()
  src.requestLog.clear()
  const same = await transfer(rules)
  assert.equal(same.code, 0, same.stderr)
  assert.equal(same.report.jobs[0].status, 'skipped')
  await src.requestLog.settle()
  const children = [amd64!.digest, arm64!.digest].map((digest) => digest.slice('sha256:'.length))
  const asked = src.requestLog.entries.filter((entry) => children.some((hex) => entry.path.includes(hex))).map((entry) => `${entry.method} ${entry.path}`)
  assert.deepEqual(asked, [])

  // A signature added later over a platform: --deep, which walks the image again, brings it.
  const arm64Signature = await pushArtifact(src, 'team/multi', cosignSignature('team/multi', arm64!.digest), `${cosignTag(arm64!.digest)}`)
  // verify checks the platform manifests' referrers too, and says how to add the one missing.
  const file = await work.file('verify-rules.yaml', rules)
  const verify = await runCli(['verify', '--ruleFile', file, '--securityFile', security])
  assert.equal(verify.code, 1, verify.stdout + verify.stderr)
  const said = (verify.stdout + verify.stderr).split('\n').filter((line) => line.includes('missing referrer'))
  assert.ok(said.length > 0, verify.stdout + verify.stderr)
  for (const line of said) assert.match(line, new RegExp(`${fallbackTag(arm64!.digest)}\\.sig.* of manifest ${arm64!.digest} \\(linux/arm64\\).*--deep`))
  const deep = await transfer(rules, '--deep')
  assert.equal(deep.code, 0, deep.stderr)
  assert.equal(deep.report.jobs[0].referrers.copied, 1)
  assert.equal(await skopeoDigest(dst, `team/multi:${cosignTag(arm64!.digest)}`), arm64Signature.digest)
  const verified = await runCli(['verify', '--ruleFile', file, '--securityFile', security])
  assert.equal(verified.code, 0, verified.stdout + verified.stderr)
})

test('a referrer deleted at the destination: its entry leaves the fallback index, every other entry stays, and the merge goes on', async () => {
  const image = await pushImage(src, 'team/app', 'v1', {layers: [randomLayer(256, 'deleted-referrer:v1')], flavour: 'oci'})
  const first = await pushArtifact(src, 'team/app', referrer(image, SIGNATURE_TYPE, 'first signature'))
  await pushFallbackIndex(src, 'team/app', image.digest, [first])
  // An entry another client wrote at the destination, whose manifest stays there.
  const foreign = await pushArtifact(dst, 'team/app', referrer(image, 'application/vnd.example.other', 'other'))
  await pushFallbackIndex(dst, 'team/app', image.digest, [foreign])

  const rules = `${src.host}/team/app:v1: ${dst.host}/team/app:v1\n`
  const run = await transfer(rules)
  assert.equal(run.code, 0, run.stderr)
  assert.deepEqual(await indexAt(dst, 'team/app', image.digest), [foreign.digest, first.digest])

  // The first signature is withdrawn at the source and deleted at the destination; a second one is added.
  const second = await pushArtifact(src, 'team/app', referrer(image, SIGNATURE_TYPE, 'second signature'))
  await pushFallbackIndex(src, 'team/app', image.digest, [second])
  const deleted = await fetch(`${dst.url}/v2/team/app/manifests/${first.digest}`, {method: 'DELETE'})
  assert.equal(deleted.status, 202)

  const again = await transfer(rules)
  assert.equal(again.code, 0, again.stdout + again.stderr)
  assert.equal(again.report.jobs[0].referrers.copied, 1)
  assert.deepEqual(await indexAt(dst, 'team/app', image.digest), [foreign.digest, second.digest])
  assert.equal(await skopeoDigest(dst, `team/app@${second.digest}`), second.digest)
})
