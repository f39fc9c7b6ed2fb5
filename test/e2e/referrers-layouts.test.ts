// Referrers in OCI image layouts: save and backup store an image's cosign signature tag, its SBOM
// (a manifest with `subject`) and the SBOM's signature in the layout (blobs/, listed in
// index.json: the referrers without a ref name, the cosign tag under its tag); load pushes them
// back after their image, keeping the fallback index of real Distribution 2.8 (no referrers API).
import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, test} from 'node:test'

import {fallbackIndexEntries, referrer, SBOM_TYPE, SIGNATURE_TYPE, type BuiltArtifact, cosignTag, pushSignedImage} from '../harness/artifacts.js'
import {skopeoDigest, skopeoTags, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {plainEntries, runCli, workDir} from './support.js'

let src: TestRegistry
let dst: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let security: string
let rules: string
let image: PushedImage
let signature: BuiltArtifact
let sbom: BuiltArtifact
let sbomSignature: BuiltArtifact

const REF_NAME = 'org.opencontainers.image.ref.name'

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
  ;({image, signature, sbom, sbomSignature} = await pushSignedImage(src, 'team/app', 'v1', 'layout-referrers:v1'))
  security = await work.file('security.yaml', plainEntries(src, dst))
  rules = await work.file('rules.yaml', `${src.host}/team/app:v1: ""\n`)
})

after(async () => {
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

type Entry = {digest: string; artifactType?: string; annotations?: Record<string, string>}
const entriesOf = async (layout: string): Promise<Entry[]> => JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')).manifests

const indexOf = (repository: string, subject: string): Promise<string[]> => fallbackIndexEntries(dst, repository, subject)

/** The image and its three referrers at `repository` of the destination, checked by skopeo, and findable there. */
async function assertWhole(repository: string): Promise<void> {
  assert.equal(await skopeoDigest(dst, `${repository}:v1`), image.digest)
  assert.equal(await skopeoDigest(dst, `${repository}:${cosignTag(image.digest)}`), signature.digest)
  assert.equal(await skopeoDigest(dst, `${repository}@${sbom.digest}`), sbom.digest)
  assert.equal(await skopeoDigest(dst, `${repository}@${sbomSignature.digest}`), sbomSignature.digest)
  assert.deepEqual(await indexOf(repository, image.digest), [sbom.digest])
  assert.deepEqual(await indexOf(repository, sbom.digest), [sbomSignature.digest])
}

test('save stores the referrers in the layout; load pushes them back after their image, findable there', async () => {
  const layout = path.join(work.dir, 'saved')
  const saved = await runCli(['save', '--ruleFile', rules, '--securityFile', security, '--output', layout])
  assert.equal(saved.code, 0, saved.stdout + saved.stderr)

  const entries = await entriesOf(layout)
  const named = new Map(entries.filter((entry) => entry.annotations?.[REF_NAME]).map((entry) => [entry.annotations![REF_NAME], entry.digest]))
  assert.deepEqual(
    named,
    new Map([
      [`${src.host}/team/app:v1`, image.digest],
      [`${src.host}/team/app:${cosignTag(image.digest)}`, signature.digest],
    ]),
  )
  // The referrers are listed without a ref name, with their artifact type; their `subject` links them.
  const unnamed = entries.filter((entry) => !entry.annotations?.[REF_NAME])
  assert.deepEqual(
    unnamed.map((entry) => [entry.digest, entry.artifactType]).sort(),
    [
      [sbom.digest, SBOM_TYPE],
      [sbomSignature.digest, SIGNATURE_TYPE],
    ].sort(),
  )
  // The lock inside the layout names them too, so a `load --frozen` can replay them.
  const lock = await readFile(path.join(layout, 'ferry.lock.yaml'), 'utf8')
  for (const digest of [signature.digest, sbom.digest, sbomSignature.digest]) assert.ok(lock.includes(digest), `${digest} in the layout's lock:\n${lock}`)

  const loaded = await runCli(['load', layout, '--registry', dst.host, '--securityFile', security, '--json'])
  assert.equal(loaded.code, 0, loaded.stdout + loaded.stderr)
  const report = JSON.parse(loaded.stdout)
  // The signature tag travels with its image: one job, not two.
  assert.deepEqual(
    report.jobs.map((job: {destination: string}) => job.destination),
    [`${dst.host}/team/app:v1`],
  )
  assert.equal(report.jobs[0].referrers.copied, 3)
  await assertWhole('team/app')

  // --referrers-artifact-type applies to a load: signatures only (the SBOM's signature goes with the SBOM it is left out with).
  const signatures = await runCli([
    'load',
    layout,
    '--registry',
    dst.host,
    '--ns',
    'signed',
    '--securityFile',
    security,
    '--referrers-artifact-type',
    SIGNATURE_TYPE,
  ])
  assert.equal(signatures.code, 0, signatures.stdout + signatures.stderr)
  assert.deepEqual((await skopeoTags(dst, 'signed/app')).sort(), [`${cosignTag(image.digest)}`, 'v1'].sort())
})

test('--referrers=false: a save stores the image alone; a load pushes no referrer (a cosign tag loads as the tag it is)', async () => {
  const layout = path.join(work.dir, 'bare')
  const saved = await runCli(['save', '--ruleFile', rules, '--securityFile', security, '--output', layout, '--referrers=false'])
  assert.equal(saved.code, 0, saved.stdout + saved.stderr)
  assert.deepEqual(
    (await entriesOf(layout)).map((entry) => entry.annotations?.[REF_NAME]),
    [`${src.host}/team/app:v1`],
  )

  const loaded = await runCli(['load', path.join(work.dir, 'saved'), '--registry', dst.host, '--ns', 'off', '--securityFile', security, '--referrers=false'])
  assert.equal(loaded.code, 0, loaded.stdout + loaded.stderr)
  assert.deepEqual((await skopeoTags(dst, 'off/app')).sort(), [`${cosignTag(image.digest)}`, 'v1'].sort())
  await assert.rejects(skopeoDigest(dst, `off/app@${sbom.digest}`))
})

test('backup stores the referrers too, and a load restores the whole image', async () => {
  const layout = path.join(work.dir, 'backup')
  const backup = await runCli(['backup', '--source', `${src.host}/team`, '--output', layout, '--securityFile', security])
  assert.equal(backup.code, 0, backup.stdout + backup.stderr)
  const digests = (await entriesOf(layout)).map((entry) => entry.digest)
  for (const digest of [image.digest, signature.digest, sbom.digest, sbomSignature.digest]) assert.ok(digests.includes(digest), digest)

  const loaded = await runCli(['load', layout, '--registry', dst.host, '--ns', 'restored', '--securityFile', security])
  assert.equal(loaded.code, 0, loaded.stdout + loaded.stderr)
  await assertWhole('restored/app')
})
