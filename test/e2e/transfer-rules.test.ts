// Every case of image-transfer's rule file, copied between two real registries and checked with
// skopeo; then a second run of the same rules, which must change nothing at the destination.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'
import {
  fetchManifest,
  MEDIA_TYPES,
  pushImage,
  pushIndex,
  randomLayer,
  rawRequest,
  skopeoDigest,
  skopeoTags,
  startRegistry,
  type PushedImage,
  type PushedIndex,
  type TestRegistry,
} from '../harness/index.js'
import {transfer, type TransferReport} from '../../src/index.js'
import {describeReport, plainEntries, resultFor, ruleYaml, workDir} from './support.js'

describe('transfer: rule cases', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>
  let security: string
  const app: Record<string, PushedImage> = {}
  let nested: PushedImage
  let ociIndex: PushedIndex
  let dockerList: PushedIndex

  before(async () => {
    ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
    security = await work.file('security.yaml', plainEntries(src, dst))
    const base = randomLayer(3000, 'rules:base')
    for (const tag of ['1.0', '2.0', '3.0']) {
      app[tag] = await pushImage(src, 'team/app', tag, {
        flavour: 'docker',
        layers: [base, randomLayer(2000, `rules:app:${tag}`)],
        labels: {tag},
      })
    }
    nested = await pushImage(src, 'a/b/c', 'v1', {flavour: 'oci', layers: [base, randomLayer(1500, 'rules:nested')]})
    ociIndex = await pushIndex(src, 'multi/oci', 'v1', undefined, 'oci', {layerSize: 1200})
    dockerList = await pushIndex(src, 'multi/docker', 'v1', undefined, 'docker', {layerSize: 1200})
  })

  after(async () => {
    await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
  })

  async function run(name: string, rules: Array<[string, string]>, extra: Partial<Parameters<typeof transfer>[0]> = {}): Promise<TransferReport> {
    const ruleFile = await work.file(name, ruleYaml(rules))
    return transfer({ruleFile, securityFile: security, retryBaseMs: 10, ...extra} as Parameters<typeof transfer>[0])
  }

  function assertAllCopied(report: TransferReport, jobs: number): void {
    assert.equal(report.generateFailures.length, 0, describeReport(report))
    assert.equal(report.summary.failed, 0, describeReport(report))
    assert.equal(report.results.length, jobs, describeReport(report))
    assert.ok(
      report.results.every((r) => r.status === 'copied'),
      describeReport(report),
    )
  }

  test('a source without a tag copies every tag under its own name', async () => {
    const report = await run('all-tags.yaml', [[`${src.host}/team/app`, `${dst.host}/all/app`]])
    assertAllCopied(report, 3)
    assert.deepEqual((await skopeoTags(dst, 'all/app')).sort(), ['1.0', '2.0', '3.0'])
    for (const tag of ['1.0', '2.0', '3.0']) {
      assert.equal(await skopeoDigest(dst, `all/app:${tag}`), app[tag]!.digest, `all/app:${tag}`)
      assert.equal(resultFor(report, dst, `all/app:${tag}`).digest, app[tag]!.digest)
    }
    // The shared base layer went up once; later jobs found it present.
    const uploaded = report.results.reduce((n, r) => n + r.blobs.uploaded, 0)
    assert.equal(uploaded, 1 + 3 + 3, 'base once, one layer and one config per tag')
  })

  test('one tag keeps its name when the destination names no tag', async () => {
    const report = await run('one-tag.yaml', [[`${src.host}/team/app:2.0`, `${dst.host}/one/app`]])
    assertAllCopied(report, 1)
    assert.equal(await skopeoDigest(dst, 'one/app:2.0'), app['2.0']!.digest)
    assert.deepEqual(await skopeoTags(dst, 'one/app'), ['2.0'])
    assert.equal((await fetchManifest(dst, 'one/app', '2.0')).mediaType, MEDIA_TYPES.docker.manifest)
  })

  test('one tag copied to a renamed destination tag', async () => {
    const report = await run('renamed.yaml', [[`${src.host}/team/app:1.0`, `${dst.host}/renamed/app:release`]])
    assertAllCopied(report, 1)
    assert.equal(await skopeoDigest(dst, 'renamed/app:release'), app['1.0']!.digest)
    assert.deepEqual(await skopeoTags(dst, 'renamed/app'), ['release'], 'only the renamed tag, not 1.0')
  })

  test('several tags `repo:1.0,3.0` copy exactly those tags', async () => {
    const report = await run('several.yaml', [[`${src.host}/team/app:1.0,3.0`, `${dst.host}/several/app`]])
    assertAllCopied(report, 2)
    assert.deepEqual((await skopeoTags(dst, 'several/app')).sort(), ['1.0', '3.0'])
    assert.equal(await skopeoDigest(dst, 'several/app:1.0'), app['1.0']!.digest)
    assert.equal(await skopeoDigest(dst, 'several/app:3.0'), app['3.0']!.digest)
  })

  test('a source by digest goes to the destination tag, or to the same digest', async () => {
    const digest = app['2.0']!.digest
    const report = await run('digest.yaml', [
      [`${src.host}/team/app@${digest}`, `${dst.host}/pinned/app:stable`],
      [`${src.host}/team/app:2.0@${digest}`, `${dst.host}/pinned/tagged`],
    ])
    assertAllCopied(report, 2)
    assert.equal(await skopeoDigest(dst, 'pinned/app:stable'), digest)
    assert.deepEqual(await skopeoTags(dst, 'pinned/app'), ['stable'])
    // `repo:tag@digest` pins the manifest and keeps the tag written beside it.
    assert.equal(await skopeoDigest(dst, 'pinned/tagged:2.0'), digest)
    assert.deepEqual(await skopeoTags(dst, 'pinned/tagged'), ['2.0'])
    // Destination by digest (a rule file holds a source once, hence a second file).
    assertAllCopied(await run('digest-to-digest.yaml', [[`${src.host}/team/app@${digest}`, `${dst.host}/pinned/bydigest@${digest}`]]), 1)
    assert.equal(await skopeoDigest(dst, `pinned/bydigest@${digest}`), digest)
    const tags = await rawRequest(dst, 'GET', '/v2/pinned/bydigest/tags/list')
    // Distribution answers 404 for a repository without a tags directory.
    assert.ok(tags.status === 404 || (JSON.parse(tags.body.toString()).tags ?? []).length === 0, tags.body.toString())
  })

  test('empty destination with the registry and ns options', async () => {
    const report = await run(
      'defaults-options.yaml',
      [
        [`${src.host}/team/app:1.0`, ''],
        [`${src.host}/a/b/c:v1`, ''],
      ],
      {registry: dst.host, ns: 'mirror', env: {}},
    )
    assertAllCopied(report, 2)
    // The first path component (the source namespace) is replaced by the default namespace.
    assert.equal(await skopeoDigest(dst, 'mirror/app:1.0'), app['1.0']!.digest)
    assert.equal(await skopeoDigest(dst, 'mirror/b/c:v1'), nested.digest)
  })

  test('empty destination with only a default registry keeps the repository path', async () => {
    const report = await run('defaults-registry.yaml', [[`${src.host}/a/b/c:v1`, '']], {registry: dst.host, env: {}})
    assertAllCopied(report, 1)
    assert.equal(resultFor(report, dst, 'a/b/c:v1').status, 'copied')
    assert.equal(await skopeoDigest(dst, 'a/b/c:v1'), nested.digest)
  })

  test('empty destination with DEFAULT_REGISTRY and DEFAULT_NAMESPACE from the environment', async () => {
    const env = {DEFAULT_REGISTRY: dst.host, DEFAULT_NAMESPACE: 'fromenv'}
    const report = await run('defaults-env.yaml', [[`${src.host}/team/app:3.0`, '']], {env})
    assertAllCopied(report, 1)
    assert.equal(await skopeoDigest(dst, 'fromenv/app:3.0'), app['3.0']!.digest)

    // An option wins over its environment variable.
    const flagWins = await run('defaults-env-flag.yaml', [[`${src.host}/team/app:3.0`, '']], {env, ns: 'fromflag'})
    assertAllCopied(flagWins, 1)
    assert.equal(await skopeoDigest(dst, 'fromflag/app:3.0'), app['3.0']!.digest)
  })

  test('a broken rule is reported with its file and line while the other rules copy', async () => {
    const report = await run(
      'broken.yaml',
      [
        [`${src.host}/team/app:1.0`, `${dst.host}/unbroken/app`],
        // A tag on the destination of an all-tags source: which tag would get which image?
        [`${src.host}/team/app`, `${dst.host}/broken/app:one`],
        // An empty destination without any default registry or namespace.
        [`${src.host}/a/b/c:v1`, ''],
      ],
      {env: {}},
    )
    assert.equal(report.generateFailures.length, 2, describeReport(report))
    assert.equal(report.summary.generateFailed, 2)
    const [tagged, empty] = report.generateFailures
    assert.match(tagged!.rule, /broken\.yaml:2$/)
    assert.ok(tagged!.message.includes(`"${src.host}/team/app"`), tagged!.message)
    assert.match(tagged!.message, /destination tag/)
    assert.equal(tagged!.code, 'INVALID_RULE')
    assert.match(empty!.rule, /broken\.yaml:3$/)
    assert.ok(empty!.message.includes(`"${src.host}/a/b/c:v1"`), empty!.message)
    assert.match(empty!.message, /DEFAULT_REGISTRY/)

    assert.equal(report.results.length, 1, describeReport(report))
    assert.equal(resultFor(report, dst, 'unbroken/app:1.0').status, 'copied')
    assert.equal(await skopeoDigest(dst, 'unbroken/app:1.0'), app['1.0']!.digest)
    await assert.rejects(skopeoTags(dst, 'broken/app'), 'nothing was pushed for the broken rule')
  })

  test('nested repository paths and an OCI image keep their bytes and media type', async () => {
    const report = await run('nested.yaml', [[`${src.host}/a/b/c:v1`, `${dst.host}/x/y/z/w:v1`]])
    assertAllCopied(report, 1)
    assert.equal(await skopeoDigest(dst, 'x/y/z/w:v1'), nested.digest)
    const served = await fetchManifest(dst, 'x/y/z/w', 'v1')
    assert.equal(served.mediaType, MEDIA_TYPES.oci.manifest)
    assert.equal(served.digest, nested.digest)
  })

  for (const flavour of ['oci', 'docker'] as const) {
    test(`a ${flavour} multi-arch index of three platforms: index and children by digest, one tag`, async () => {
      const index = flavour === 'oci' ? ociIndex : dockerList
      const report = await run(`index-${flavour}.yaml`, [[`${src.host}/multi/${flavour}:v1`, `${dst.host}/mirror/multi-${flavour}`]])
      assertAllCopied(report, 1)
      const result = resultFor(report, dst, `mirror/multi-${flavour}:v1`)
      assert.equal(result.digest, index.digest)
      assert.equal(index.children.length, 3)
      assert.equal(await skopeoDigest(dst, `mirror/multi-${flavour}:v1`), index.digest)
      const served = await fetchManifest(dst, `mirror/multi-${flavour}`, 'v1')
      assert.equal(served.mediaType, MEDIA_TYPES[flavour].index)
      for (const child of index.children) {
        assert.equal(await skopeoDigest(dst, `mirror/multi-${flavour}@${child.digest}`), child.digest, `child ${child.digest}`)
      }
      // Children went up by digest: the only tag is the index's.
      assert.deepEqual(await skopeoTags(dst, `mirror/multi-${flavour}`), ['v1'])
      // Three configs, three platform layers, one shared layer.
      assert.equal(result.blobs.uploaded, 7)
    })
  }
})

describe('transfer: a second run of the same rules', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>

  before(async () => {
    ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
  })
  after(async () => {
    await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
  })

  test('skips every job and writes nothing to the destination', async () => {
    const base = randomLayer(2000, 'again:base')
    const pushed: PushedImage[] = []
    for (const tag of ['1', '2', '3']) {
      pushed.push(await pushImage(src, 'again/app', tag, {flavour: tag === '2' ? 'oci' : 'docker', layers: [base, randomLayer(1000, `again:${tag}`)]}))
    }
    const index = await pushIndex(src, 'again/multi', 'm', undefined, 'oci', {layerSize: 800})
    const ruleFile = await work.file(
      'rules.yaml',
      ruleYaml([
        [`${src.host}/again/app`, `${dst.host}/copy/app`],
        [`${src.host}/again/multi:m`, `${dst.host}/copy/multi:renamed`],
        [`${src.host}/again/app@${pushed[0]!.digest}`, `${dst.host}/copy/pinned:p`],
      ]),
    )
    const securityFile = await work.file('security.yaml', plainEntries(src, dst))

    const first = await transfer({ruleFile, securityFile, retryBaseMs: 10})
    assert.equal(first.summary.copied, 5, describeReport(first))
    assert.equal(first.summary.failed + first.summary.generateFailed, 0, describeReport(first))

    await Promise.all([dst.requestLog.settle(), src.requestLog.settle()])
    dst.requestLog.clear()
    src.requestLog.clear()

    const second = await transfer({ruleFile, securityFile, retryBaseMs: 10})
    assert.equal(second.results.length, 5, describeReport(second))
    assert.ok(
      second.results.every((r) => r.status === 'skipped'),
      describeReport(second),
    )
    assert.equal(second.summary.skipped, 5)
    assert.equal(second.summary.copied, 0)
    assert.equal(second.summary.bytes, 0)
    for (const r of second.results) {
      assert.deepEqual(r.blobs, {uploaded: 0, mounted: 0, existing: 0}, r.destination)
      assert.equal(r.bytes, 0)
    }
    assert.equal(resultFor(second, dst, 'copy/multi:renamed').digest, index.digest)

    const written = await dst.requestLog.settle()
    const writes = written.filter((e) => ['PUT', 'POST', 'PATCH', 'DELETE'].includes(e.method))
    assert.deepEqual(writes, [], 'no write request reached the destination')
    // "A tag whose destination already has the same digest costs one HEAD at each side."
    assert.deepEqual([...new Set(written.map((e) => e.method))], ['HEAD'], JSON.stringify(written))
    assert.equal(written.length, 5, JSON.stringify(written))
    const read = await src.requestLog.settle()
    assert.equal(read.filter((e) => /\/blobs\//.test(e.path)).length, 0, 'no blob was read from the source')
    assert.equal(read.filter((e) => e.method === 'GET' && /\/manifests\//.test(e.path)).length, 0, 'no manifest was downloaded')

    // And the content is still what the first run put there.
    assert.equal(await skopeoDigest(dst, 'copy/app:3'), pushed[2]!.digest)
    assert.equal(await skopeoDigest(dst, 'copy/multi:renamed'), index.digest)
    assert.equal(await skopeoDigest(dst, 'copy/pinned:p'), pushed[0]!.digest)
  })
})
