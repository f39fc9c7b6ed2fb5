// --platform: a multi-platform index reduced to the asked children, checked with skopeo.
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {pushImage, pushIndex, randomLayer, skopeoDigest, skopeoRawManifest, startRegistry, type PushedIndex, type TestRegistry} from '../harness/index.js'
import {plainEntries, runCli, workDir} from './support.js'

let source: TestRegistry
let destination: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let security: string
let oci: PushedIndex
let docker: PushedIndex

before(async () => {
  ;[source, destination] = await Promise.all([startRegistry(), startRegistry()])
  work = await workDir()
  security = await work.file('security.yaml', plainEntries(source, destination))
  oci = await pushIndex(source, 'multi/app', 'v1', ['linux/amd64', 'linux/arm64', 'linux/arm/v7'], 'oci', {layerSize: 256})
  docker = await pushIndex(source, 'multi/docker', 'v1', ['linux/amd64', 'linux/arm/v6', 'linux/arm/v7'], 'docker', {layerSize: 256})
  await pushImage(source, 'single/arm', '1.0', {platform: 'linux/arm64', layers: [randomLayer(256, 'single/arm')]})
  await pushImage(source, 'single/amd', '1.0', {platform: 'linux/amd64', layers: [randomLayer(256, 'single/amd')]})
})

after(async () => {
  await Promise.all([source?.stop(), destination?.stop(), work?.cleanup()])
})

type Entry = {digest: string; platform?: {architecture: string}}
const entries = (bytes: Buffer) => (JSON.parse(bytes.toString()) as {manifests: Entry[]}).manifests
const headStatus = async (registry: TestRegistry, path: string) => (await fetch(`${registry.url}${path}`, {method: 'HEAD'})).status

async function transfer(rules: string, ...flags: string[]) {
  const file = await work.file(`rules-${Math.random().toString(36).slice(2)}.yaml`, rules)
  const run = await runCli(['transfer', '--ruleFile', file, '--securityFile', security, '--json', ...flags])
  assert.equal(run.code, 0, run.stderr + run.stdout)
  return {file, report: JSON.parse(run.stdout)}
}

test('--platform pushes an index of just those children, each byte-identical; the report gives the new digest; a re-run skips', async () => {
  const {file, report} = await transfer(`${source.host}/multi/app:v1: ${destination.host}/sub/app:v1\n`, '--platform', 'linux/amd64,linux/arm64')
  const [result] = report.jobs
  assert.equal(result.status, 'copied')
  assert.equal(result.sourceDigest, oci.digest)
  const served = await skopeoRawManifest(destination, 'sub/app:v1')
  assert.equal(result.destinationDigest, await skopeoDigest(destination, 'sub/app:v1'))
  assert.notEqual(result.destinationDigest, oci.digest)
  assert.match(result.note, /index reduced to 2 of 3 manifests .*the destination digest differs/)

  const sourceDoc = JSON.parse(oci.manifest.toString())
  const subsetDoc = JSON.parse(served.toString())
  // Same media type and fields; the kept entries exactly as the source lists them.
  assert.deepEqual(subsetDoc, {...sourceDoc, manifests: sourceDoc.manifests.slice(0, 2)})
  assert.deepEqual(
    entries(served).map((e) => e.platform?.architecture),
    ['amd64', 'arm64'],
  )
  for (const child of oci.children.slice(0, 2)) assert.equal(await skopeoDigest(destination, `sub/app@${child.digest}`), child.digest)
  assert.equal(await headStatus(destination, `/v2/sub/app/manifests/${oci.children[2].digest}`), 404, 'arm/v7 is not copied')

  await destination.requestLog.settle()
  destination.requestLog.clear()
  const again = await runCli(['transfer', '--ruleFile', file, '--securityFile', security, '--json', '--platform', 'linux/arm64,linux/amd64'])
  assert.equal(again.code, 0, again.stderr)
  const rerun = JSON.parse(again.stdout).jobs[0]
  assert.equal(rerun.status, 'skipped')
  assert.equal(rerun.skipReason, 'same digest')
  assert.equal(rerun.destinationDigest, result.destinationDigest)
  await destination.requestLog.settle()
  assert.deepEqual(
    destination.requestLog.entries.filter((e) => e.method !== 'HEAD' && e.method !== 'GET'),
    [],
  )

  // verify compares with the subset: complete with the same --platform, different without it.
  const verified = await runCli(['verify', '--ruleFile', file, '--securityFile', security, '--platform', 'linux/amd64,linux/arm64'])
  assert.equal(verified.code, 0, verified.stdout + verified.stderr)
  const whole = await runCli(['verify', '--ruleFile', file, '--securityFile', security])
  assert.equal(whole.code, 1)
  assert.match(
    whole.stdout + whole.stderr,
    new RegExp(`different manifest ${destination.host}/sub/app:v1: ${result.destinationDigest}, the source has ${oci.digest}`),
  )
})

test("a rule's platform (linux/arm: every variant) on a Docker manifest list keeps its media type", async () => {
  const {report} = await transfer(
    `${source.host}/multi/docker:v1: {target: ${destination.host}/arm/docker:v1, platform: linux/arm}\n`,
    '--platform',
    'linux/amd64',
  )
  assert.equal(report.jobs[0].status, 'copied')
  const served = await skopeoRawManifest(destination, 'arm/docker:v1')
  const doc = JSON.parse(served.toString())
  assert.equal(doc.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json')
  assert.deepEqual(
    entries(served).map((e) => e.digest),
    docker.children.slice(1).map((c) => c.digest),
  )
})

test('without --platform the index is copied unchanged', async () => {
  await transfer(`${source.host}/multi/app:v1: ${destination.host}/whole/app:v1\n`)
  assert.equal(await skopeoDigest(destination, 'whole/app:v1'), oci.digest)
})

test('single-platform images that do not match are skipped with a reason', async () => {
  const {report} = await transfer(
    `${source.host}/single/arm:1.0: ${destination.host}/single/arm:1.0\n${source.host}/single/amd:1.0: ${destination.host}/single/amd:1.0\n`,
    '--platform',
    'linux/amd64',
  )
  const byImage = Object.fromEntries(report.jobs.map((r: {source: string}) => [r.source.replace(`${source.host}/`, ''), r]))
  assert.equal(byImage['single/arm:1.0'].status, 'skipped')
  assert.equal(byImage['single/arm:1.0'].skipReason, 'platform not selected')
  assert.match(byImage['single/arm:1.0'].note, /the image is linux\/arm64, not linux\/amd64/)
  assert.equal(byImage['single/amd:1.0'].status, 'copied')
  assert.equal(await headStatus(destination, '/v2/single/arm/manifests/1.0'), 404)
  assert.equal(await skopeoDigest(destination, 'single/amd:1.0'), await skopeoDigest(source, 'single/amd:1.0'))
})
