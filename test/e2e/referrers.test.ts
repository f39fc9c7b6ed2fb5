// Signatures, SBOMs and their signatures travel with an image: from real Distribution 2.8 (no
// referrers API: the sha256-<hex> fallback index and cosign's .sig tags) and from a registry with
// the API (a front over Distribution that serves /referrers/ from what Distribution stores).
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {
  cosignSignature,
  helmChart,
  HELM_CONFIG,
  pushArtifact,
  pushFallbackIndex,
  referrer,
  SBOM_TYPE,
  SIGNATURE_TYPE,
  type BuiltArtifact,
  fallbackTag,
  cosignTag,
  pushSignedImage,
} from '../harness/artifacts.js'
import {
  fetchManifest,
  pushImage,
  randomLayer,
  skopeoDigest,
  skopeoRawManifest,
  skopeoTags,
  startRegistry,
  type PushedImage,
  type TestRegistry,
} from '../harness/index.js'
import {startReferrersRegistry, type ReferrersRegistry} from '../harness/referrers-registry.js'
import {runCli, workDir} from './support.js'

let source: TestRegistry
let destination: TestRegistry
let apiBackend: TestRegistry
let api: ReferrersRegistry
let work: Awaited<ReturnType<typeof workDir>>
let security: string
let image: PushedImage
let signature: BuiltArtifact
let sbom: BuiltArtifact
let sbomSignature: BuiltArtifact
let attestation: BuiltArtifact
let foreign: BuiltArtifact

const ATTESTATION = 'application/vnd.in-toto+json'

before(async () => {
  ;[source, destination, apiBackend] = await Promise.all([startRegistry(), startRegistry(), startRegistry()])
  api = await startReferrersRegistry(apiBackend, {pageSize: 1})
  work = await workDir()
  security = await work.file('security.yaml', [source.host, destination.host, api.host].map((host) => `"http://${host}": {}\n`).join(''))

  // As cosign 2 and oras leave them on a registry without the referrers API.
  ;({image, signature, sbom, sbomSignature} = await pushSignedImage(source, 'team/app', 'v1', 'referrers:v1'))
})

after(async () => {
  await api?.stop()
  await Promise.all([source?.stop(), destination?.stop(), apiBackend?.stop(), work?.cleanup()])
})

const transfer = async (rules: string, ...flags: string[]) => {
  const file = await work.file(`rules-${Math.random().toString(36).slice(2)}.yaml`, rules)
  const run = await runCli(['transfer', '--ruleFile', file, '--securityFile', security, '--json', ...flags])
  return {...run, report: run.stdout ? JSON.parse(run.stdout) : undefined}
}

/** `ferry verify` of team/app:v1 from `source` to `destination`. */
const verifyApp = async (source: {host: string}, destination: {host: string}, file: string) =>
  runCli(['verify', '--ruleFile', await work.file(file, `${source.host}/team/app:v1: ${destination.host}/team/app:v1\n`), '--securityFile', security])

const indexOf = async (registry: {url: string}, repository: string, subject: string): Promise<string[]> => {
  const manifest = await fetchManifest(registry, repository, fallbackTag(subject))
  return (JSON.parse(manifest.bytes.toString()) as {manifests: {digest: string}[]}).manifests.map((entry) => entry.digest)
}

test('fallback to fallback: the cosign tag, the SBOM and the signature of the SBOM come with the image, and are findable', async () => {
  // An entry another client wrote in the destination's fallback index is never dropped by the merge.
  foreign = await pushArtifact(destination, 'team/app', referrer(image, 'application/vnd.example.other', 'other', {}))
  await pushFallbackIndex(destination, 'team/app', image.digest, [foreign])
  const run = await transfer(`${source.host}/team/app:v1: ${destination.host}/team/app:v1\n`)
  assert.equal(run.code, 0, run.stderr)
  const [job] = run.report.jobs
  assert.equal(job.status, 'copied')
  assert.deepEqual(job.referrers, {copied: 3, present: 0, planned: []})
  assert.equal(run.report.summary.referrers.copied, 3)

  assert.equal(await skopeoDigest(destination, 'team/app:v1'), image.digest)
  assert.equal(await skopeoDigest(destination, `team/app:${cosignTag(image.digest)}`), signature.digest)
  assert.equal(await skopeoDigest(destination, `team/app@${sbom.digest}`), sbom.digest)
  assert.equal(await skopeoDigest(destination, `team/app@${sbomSignature.digest}`), sbomSignature.digest)
  assert.deepEqual(await indexOf(destination, 'team/app', image.digest), [foreign.digest, sbom.digest])
  assert.deepEqual(await indexOf(destination, 'team/app', sbom.digest), [sbomSignature.digest])

  const verify = await verifyApp(source, destination, 'v.yaml')
  assert.equal(verify.code, 0, verify.stdout + verify.stderr)
})

test('a signature added later comes with the next run, without the image copied again; the index keeps every entry', async () => {
  const rules = `${source.host}/team/app:v1: ${destination.host}/team/app:v1\n`
  const same = await transfer(rules)
  assert.equal(same.code, 0, same.stderr)
  assert.equal(same.report.jobs[0].status, 'skipped')
  assert.deepEqual(same.report.jobs[0].referrers, {copied: 0, present: 3, planned: []})

  attestation = await pushArtifact(source, 'team/app', referrer(image, ATTESTATION, '{"predicateType":"slsa"}'))
  await pushFallbackIndex(source, 'team/app', image.digest, [sbom, attestation])
  await destination.requestLog.settle()
  destination.requestLog.clear()
  const later = await transfer(rules)
  assert.equal(later.code, 0, later.stderr)
  const [job] = later.report.jobs
  assert.equal(job.status, 'skipped')
  assert.equal(job.skipReason, 'same digest')
  assert.deepEqual(job.referrers, {copied: 1, present: 3, planned: []})
  await destination.requestLog.settle()
  const pushed = destination.requestLog.entries.filter((entry) => entry.method === 'PUT' && entry.path.includes('/manifests/')).map((entry) => entry.path)
  assert.deepEqual(pushed.sort(), [`/v2/team/app/manifests/${attestation.digest}`, `/v2/team/app/manifests/${fallbackTag(image.digest)}`].sort())
  assert.deepEqual(await indexOf(destination, 'team/app', image.digest), [foreign.digest, sbom.digest, attestation.digest])
})

test('--referrers=false copies the image alone; --referrers-artifact-type keeps only signatures; a dry run lists them', async () => {
  const off = await transfer(`${source.host}/team/app:v1: ${destination.host}/off/app:v1\n`, '--referrers=false')
  assert.equal(off.code, 0, off.stderr)
  assert.equal(off.report.jobs[0].referrers, null)
  assert.deepEqual(await skopeoTags(destination, 'off/app'), ['v1'])

  const plan = await transfer(`${source.host}/team/app:v1: ${destination.host}/signed/app:v1\n`, '--dryRun')
  assert.equal(plan.code, 0, plan.stderr)
  assert.equal(plan.report.jobs[0].status, 'planned')
  assert.equal(plan.report.jobs[0].referrers.planned.length, 4)
  assert.ok(plan.report.jobs[0].referrers.planned.includes(`${cosignTag(image.digest)} (${signature.digest})`))
  assert.ok(plan.report.jobs[0].referrers.planned.includes(`${sbom.digest} (${SBOM_TYPE})`))

  const signatures = await transfer(`${source.host}/team/app:v1: ${destination.host}/signed/app:v1\n`, '--referrersArtifactType', SIGNATURE_TYPE)
  assert.equal(signatures.code, 0, signatures.stderr)
  assert.deepEqual(signatures.report.jobs[0].referrers, {copied: 1, present: 0, planned: []})
  assert.deepEqual((await skopeoTags(destination, 'signed/app')).sort(), [`${cosignTag(image.digest)}`, 'v1'].sort())

  const bad = await transfer(`${source.host}/team/app:v1: ${destination.host}/signed/app:v1\n`, '--referrers-artifact-type', 'not a type')
  assert.notEqual(bad.code, 0)
  assert.match(bad.stdout + bad.stderr, /--referrers-artifact-type \\?"not a type\\?" is not a media type/)
})

test('a whole repository: the scheme tags travel with their image instead of as jobs of their own', async () => {
  const run = await transfer(`${source.host}/team/app: ${destination.host}/whole/app\n`)
  assert.equal(run.code, 0, run.stderr)
  assert.deepEqual(
    run.report.jobs.map((job: {destination: string}) => job.destination),
    [`${destination.host}/whole/app:v1`],
  )
  assert.equal(run.report.jobs[0].referrers.copied, 4)
  assert.deepEqual(await indexOf(destination, 'whole/app', image.digest), [sbom.digest, attestation.digest])
})

test('verify names a referrer lost at the destination', async () => {
  const hex = sbomSignature.digest.slice('sha256:'.length)
  const deleted = await fetch(`${destination.url}/v2/team/app/manifests/${sbomSignature.digest}`, {method: 'DELETE'})
  assert.equal(deleted.status, 202, hex)
  const verify = await verifyApp(source, destination, 'v2.yaml')
  assert.equal(verify.code, 1, verify.stdout + verify.stderr)
  assert.match(
    verify.stdout + verify.stderr,
    new RegExp(`missing referrer ${destination.host}/team/app: ${sbomSignature.digest} \\(${SIGNATURE_TYPE.replace(/[.+]/g, '\\$&')}\\) of ${sbom.digest}`),
  )
  const repair = await transfer(`${source.host}/team/app:v1: ${destination.host}/team/app:v1\n`)
  assert.equal(repair.code, 0, repair.stderr)
  assert.equal(repair.report.jobs[0].referrers.copied, 1)
})

test('the referrers API: a source with it is asked (paged), a destination with it indexes the subject itself', async () => {
  // Fallback source → API destination: no fallback index is written there.
  const toApi = await transfer(`${source.host}/team/app:v1: ${api.host}/team/app:v1\n`)
  assert.equal(toApi.code, 0, toApi.stderr)
  assert.equal(await skopeoDigest(apiBackend, `team/app@${sbomSignature.digest}`), sbomSignature.digest)
  const tags = await skopeoTags(apiBackend, 'team/app')
  assert.ok(tags.includes(`${cosignTag(image.digest)}`), tags.join(' '))
  assert.ok(
    !tags.includes(fallbackTag(image.digest)) && !tags.includes(fallbackTag(sbom.digest)),
    `no fallback index where the registry has the API: ${tags.join(' ')}`,
  )

  // API source → fallback destination: found through the API (two referrers, pages of one).
  api.queries.length = 0
  const fromApi = await transfer(`${api.host}/team/app:v1: ${destination.host}/from-api/app:v1\n`)
  assert.equal(fromApi.code, 0, fromApi.stderr)
  assert.ok(api.queries.some((query) => query.startsWith(`/v2/team/app/referrers/${image.digest}`)))
  assert.ok(
    api.queries.some((query) => query.includes('last=1')),
    `followed Link: ${api.queries.join(' ')}`,
  )
  assert.equal(fromApi.report.jobs[0].referrers.copied, 4)
  assert.equal(await skopeoDigest(destination, `from-api/app@${sbomSignature.digest}`), sbomSignature.digest)
  assert.equal((await indexOf(destination, 'from-api/app', image.digest)).length, 2)
  assert.deepEqual(await indexOf(destination, 'from-api/app', sbom.digest), [sbomSignature.digest])

  // The artifact type filter is sent to the API, which says it applied it.
  api.queries.length = 0
  const filtered = await transfer(`${api.host}/team/app:v1: ${destination.host}/sbom-only/app:v1\n`, '--referrers-artifact-type', SBOM_TYPE)
  assert.equal(filtered.code, 0, filtered.stderr)
  assert.ok(
    api.queries.some((query) => query.includes(`artifactType=${encodeURIComponent(SBOM_TYPE)}`)),
    api.queries.join(' '),
  )
  assert.deepEqual(filtered.report.jobs[0].referrers, {copied: 1, present: 0, planned: []})
})

test('a Helm chart (its own config media type) and its cosign signature copy byte for byte', async () => {
  const chart = await pushArtifact(source, 'charts/demo', helmChart('demo', '0.1.0'), '0.1.0')
  const chartSignature = await pushArtifact(source, 'charts/demo', cosignSignature('charts/demo', chart.digest, 'chart'), `${cosignTag(chart.digest)}`)
  const run = await transfer(`${source.host}/charts/demo:0.1.0: ${destination.host}/charts/demo:0.1.0\n`)
  assert.equal(run.code, 0, run.stderr)
  assert.deepEqual(await skopeoRawManifest(destination, 'charts/demo:0.1.0'), chart.manifest)
  assert.match(chart.manifest.toString(), new RegExp(HELM_CONFIG.replace(/[.+]/g, '\\$&')))
  assert.equal(await skopeoDigest(destination, `charts/demo:${cosignTag(chart.digest)}`), chartSignature.digest)
})

test('a no-change run of images without referrers costs at most one request per manifest more than --referrers=false', async () => {
  for (const tag of ['a', 'b', 'c']) await pushImage(source, 'plain/app', tag, {layers: [randomLayer(128, `plain:${tag}`)]})
  const rules = `${source.host}/plain/app: ${destination.host}/plain/app\n`
  assert.equal((await transfer(rules)).code, 0)
  const without = await transfer(rules, '--referrers=false')
  const withReferrers = await transfer(rules)
  assert.equal(withReferrers.report.summary.skipped, 3)
  const extra = withReferrers.report.summary.requests - without.report.summary.requests
  assert.ok(extra <= 3, `a no-change run made ${extra} more requests with referrers on`)
})
