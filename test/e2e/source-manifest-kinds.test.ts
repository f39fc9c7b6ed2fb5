// Source manifests at the edges of what ferry copies, against real Distribution: an image with a
// non-distributable (foreign) layer, copied without its bytes by default and with them under
// --include-nondistributable; and a Docker schema 1 manifest (served by the fault proxy's
// `respond` fault, as Distribution 2.8 no longer takes schema 1 pushes), refused with one line.
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import {startFaultProxy, type FaultProxy} from '../harness/fault-proxy.js'
import {buildImage, pushBuiltImage, randomLayer, rawRequest, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {lines, plainEntries, ruleYaml, runCli, workDir} from './support.js'

const NONDISTRIBUTABLE = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
// Distribution refuses a manifest with URLs unless its configuration allows them.
const allowUrls = (config: Record<string, any>) => {
  config.validation = {manifests: {urls: {allow: ['^https?://']}}}
}

describe('source manifests ferry copies only in part, or not at all', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let proxy: FaultProxy
  let work: Awaited<ReturnType<typeof workDir>>

  before(async () => {
    ;[src, dst, work] = await Promise.all([startRegistry({configure: allowUrls}), startRegistry({configure: allowUrls}), workDir()])
    proxy = await startFaultProxy(src)
    await work.file('security.yaml', plainEntries(src, dst, proxy as unknown as TestRegistry))
  })
  after(async () => {
    await Promise.all([proxy?.stop(), src?.stop(), dst?.stop(), work?.cleanup()])
  })

  async function transfer(name: string, rules: Array<[string, string]>, ...flags: string[]) {
    const ruleFile = await work.file(`${name}.yaml`, ruleYaml(rules))
    return runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', path.join(work.dir, 'security.yaml'), '--retry', '0', ...flags])
  }

  test('a non-distributable layer: the manifest alone by default; its bytes too with --include-nondistributable', async () => {
    const foreign = randomLayer(64 * 1024, 'foreign-layer')
    const built = buildImage({flavour: 'oci', layers: [foreign, randomLayer(4096, 'foreign-image-own')]})
    const doc = JSON.parse(built.manifest.toString('utf8')) as {layers: Array<Record<string, unknown>>}
    doc.layers[0] = {...doc.layers[0], mediaType: NONDISTRIBUTABLE, urls: ['https://example.invalid/windows/base-layer']}
    const manifest = Buffer.from(JSON.stringify(doc, null, 3))
    // The layer's blob is present at the source registry too (a mirror that holds it).
    const image = await pushBuiltImage(src, 'win/app', 'v1', {...built, manifest, digest: sha256(manifest)})
    const layer = `/blobs/${sha256(foreign)}`

    const plain = await transfer('plain', [[`${src.host}/win/app:v1`, `${dst.host}/plain/app`]])
    assert.equal(plain.code, 0, plain.stderr)
    assert.equal(await skopeoDigest(dst, 'plain/app:v1'), image.digest)
    assert.equal((await rawRequest(dst, 'HEAD', `/v2/plain/app${layer}`)).status, 404, 'left out by default')

    const included = await transfer('included', [[`${src.host}/win/app:v1`, `${dst.host}/with/app`]], '--include-nondistributable')
    assert.equal(included.code, 0, included.stderr)
    assert.equal(await skopeoDigest(dst, 'with/app:v1'), image.digest)
    const copied = await rawRequest(dst, 'GET', `/v2/with/app${layer}`)
    assert.equal(copied.status, 200)
    assert.equal(sha256(copied.body), sha256(foreign))
    // verify checks the layer too when asked to include it.
    const verified = await runCli([
      'verify',
      '--ruleFile',
      path.join(work.dir, 'plain.yaml'),
      '--securityFile',
      path.join(work.dir, 'security.yaml'),
      '--includeNondistributable=true',
    ])
    assert.notEqual(verified.code, 0, verified.stdout + verified.stderr)
    assert.match(verified.stdout + verified.stderr, new RegExp(`missing blob ${dst.host}/plain/app@${sha256(foreign)}`))
  })

  test('a Docker schema 1 source manifest: one line naming the image and what to do, no stack trace', async () => {
    const schema1 = JSON.stringify({
      schemaVersion: 1,
      name: 'old/app',
      tag: 'v1',
      architecture: 'amd64',
      fsLayers: [{blobSum: sha256(Buffer.from('a'))}],
      history: [{v1Compatibility: '{"id":"1"}'}],
      signatures: [{header: {alg: 'ES256'}, signature: 'c2ln', protected: 'cHJvdGVjdGVk'}],
    })
    proxy.addFault({
      path: /^\/v2\/old\/app\/manifests\//,
      fault: {
        kind: 'respond',
        answer: () => ({
          status: 200,
          headers: {'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'docker-content-digest': sha256(Buffer.from(schema1))},
          body: schema1,
        }),
      },
    })
    const run = await transfer('schema1', [[`${proxy.host}/old/app:v1`, `${dst.host}/old/app`]])
    assert.equal(run.code, 1, run.stdout + run.stderr)
    const output = run.stdout + run.stderr
    assert.doesNotMatch(output, /\n\s+at /, 'no stack trace')
    // The job's line (and its repeat in the failure summary): the image, and how to convert it.
    const said = lines(output).filter((line) => /schema 1/i.test(line))
    assert.ok(said.length > 0, output)
    for (const line of said) {
      assert.match(line, new RegExp(`${proxy.host}/old/app:v1`))
      assert.match(line, /skopeo copy --format v2s2 docker:\/\/IMAGE docker:\/\/IMAGE/)
    }
    assert.equal((await rawRequest(dst, 'HEAD', '/v2/old/app/manifests/v1')).status, 404)
  })
})
