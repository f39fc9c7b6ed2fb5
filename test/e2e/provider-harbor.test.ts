// The harbor provider against fake Harbors (test/fakes/harbor-api.ts) that serve the v2.0 API and
// proxy /v2 to real docker-registry instances: images really copy, and every tag is checked with
// skopeo at the registry behind the destination.
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {parseSecurity, type CredentialStore} from '../../src/config/security.js'
import {FerryError} from '../../src/errors.js'
import {harborProvider} from '../../src/providers/harbor.js'
import {migrate} from '../../src/providers/migrate.js'
import type {ProviderContext, SourceRepository} from '../../src/providers/provider.js'
import {registryProvider} from '../../src/providers/registry.js'
import {createLimiter} from '../../src/registry/limiter.js'
import type {Logger} from '../../src/report/logger.js'
import {pushImage, randomLayer, seedCorpus, skopeoDigest, startRegistry, type Corpus, type TestRegistry} from '../harness/index.js'
import {startFakeHarbor, type FakeHarbor} from '../fakes/harbor-api.js'
import {describeReport, lines, ROOT, runCli, workDir} from './support.js'
import {createProxy} from 'proxy'

const PASSWORD = 'Harbor12345'

describe('harbor provider', () => {
  let plain: TestRegistry // a plain registry, source of the registry → harbor case
  let behind1: TestRegistry
  let behind2: TestRegistry
  let behind3: TestRegistry
  let source: FakeHarbor
  let destination: FakeHarbor
  let third: FakeHarbor
  let corpus: Corpus
  let credentials: CredentialStore
  let work: Awaited<ReturnType<typeof workDir>>

  const logged: string[] = []
  const logger: Logger = {info: (line) => logged.push(line), warn: (line) => logged.push(line), result: () => undefined}
  const context = (registry: string | undefined, settings: Record<string, string> = {}, store = credentials): ProviderContext => ({
    settings: {registry, ...settings},
    secrets: {},
    credentials: store,
    limiter: createLimiter({}),
    env: {FERRY_HARBOR_PAGE_SIZE: '2'},
    logger,
  })
  const securityYaml = (password: string) =>
    [source, destination, third].map((h) => `"http://${h.host}": {username: admin, password: "${password}"}\n`).join('') + `"http://${plain.host}": {}\n`

  before(async () => {
    ;[plain, behind1, behind2, behind3, work] = await Promise.all([startRegistry(), startRegistry(), startRegistry(), startRegistry(), workDir()])
    ;[source, destination, third] = await Promise.all([
      startFakeHarbor({upstream: behind1}),
      // Some Harbor versions answer 400 for a blob they do not have: ferry must take it as absent.
      startFakeHarbor({upstream: behind2, blobHeadMissingStatus: 400}),
      startFakeHarbor({upstream: behind3}),
    ])
    credentials = parseSecurity(securityYaml(PASSWORD), 'security.yaml')

    source.addProject('alpha')
    source.addProject('beta', {public: true})
    source.addProject('empty')
    source.addProject('cache', {registryId: 7})
    // Pushed through the fake, which learns artifacts and tags from the manifests, like Harbor.
    corpus = await seedCorpus(source, {
      repositories: ['alpha/app', 'alpha/team/svc', 'beta/a/b'],
      tagsPerRepo: 2,
      layerSize: 256,
      indexEvery: 3,
      aliasLatest: true,
    })
    await pushImage(source, 'alpha/app', null, {layers: [randomLayer(256, 'harbor:untagged')]})
    await pushImage(source, 'cache/library/base', 'x', {layers: [randomLayer(256, 'harbor:cache')]})
    await seedCorpus(plain, {repositories: ['team/app', 'solo'], tagsPerRepo: 1, layerSize: 256, seed: 'plain', indexEvery: 0})
  })

  after(async () => {
    await Promise.all([source?.stop(), destination?.stop(), third?.stop()])
    await Promise.all([plain?.stop(), behind1?.stop(), behind2?.stop(), behind3?.stop(), work?.cleanup()])
  })

  test('harbor → harbor: every tag of every project, nested repositories, projects created before the first push', async () => {
    logged.length = 0
    const from = await harborProvider.source!(context(source.host))
    const to = await harborProvider.destination!(context(destination.host))
    const report = await migrate({from, to, credentials, limiter: createLimiter({}), logger, routines: 4, retryBaseMs: 20})

    assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
    assert.equal(report.summary.copied, corpus.entries.length, describeReport(report))
    for (const entry of corpus.entries) {
      assert.equal(await skopeoDigest(behind2, `${entry.repository}:${entry.tag}`), entry.digest, `${entry.repository}:${entry.tag}`)
    }
    // The destination's API sees what was pushed, tags and all (the proxy learned it).
    assert.deepEqual(
      destination
        .artifacts('alpha/team/svc')
        .flatMap((a) => a.tags)
        .sort(),
      ['1.0.0', '1.1.0', 'latest'],
    )

    // Projects: created once each, before any write reached them; none for the empty project or the proxy cache.
    assert.deepEqual(destination.projectNames(), ['alpha', 'beta'])
    assert.equal(destination.count({method: 'POST', path: /^\/api\/v2\.0\/projects$/, status: 201}), 2)
    for (const name of ['alpha', 'beta']) {
      const project = destination.project(name)!
      assert.ok(project.firstWriteSeq !== undefined && project.createdSeq < project.firstWriteSeq, `${name} created before its first push`)
      assert.equal(project.public, false)
    }
    assert.equal(destination.count({path: /^\/v2\//, status: 404, method: 'PUT'}) + destination.count({path: /^\/v2\//, status: 404, method: 'POST'}), 0)
    assert.ok(!destination.repositoryNames().some((name) => name.startsWith('cache/')))
    assert.ok(destination.blobHeadRewrites > 0, 'the 400-for-missing-blob quirk was exercised')

    // Pages really happened, and nested names went out encoded twice.
    assert.ok(source.count({method: 'GET', path: /^\/api\/v2\.0\/projects$/}) >= 2)
    assert.ok(source.count({method: 'GET', path: /^\/api\/v2\.0\/projects\/alpha\/repositories\/app\/artifacts$/}) >= 2)
    assert.ok(source.count({method: 'GET', path: /^\/api\/v2\.0\/projects\/beta\/repositories\/a%252Fb\/artifacts$/, status: 200}) >= 1)

    assert.ok(
      logged.some((line) => /^harbor: 1 untagged artifact in 127\.0\.0\.1:\d+\/alpha\/app not copied$/.test(line)),
      logged.join('\n'),
    )
    assert.ok(!logged.some((line) => line.includes('alpha/team/svc not copied')), 'children of an index are not untagged artifacts')
    assert.ok(
      logged.some((line) => /proxy cache .* not copied/.test(line) && line.includes('/cache')),
      logged.join('\n'),
    )
  })

  test('a second run copies nothing and creates nothing', async () => {
    const from = await harborProvider.source!(context(source.host))
    const to = await harborProvider.destination!(context(destination.host))
    const posts = destination.count({method: 'POST', path: /^\/api\/v2\.0\/projects$/})
    const report = await migrate({from, to, credentials, limiter: createLimiter({}), routines: 4})
    assert.equal(report.summary.copied, 0, describeReport(report))
    assert.equal(report.summary.skipped, corpus.entries.length, describeReport(report))
    assert.equal(destination.count({method: 'POST', path: /^\/api\/v2\.0\/projects$/}), posts)
  })

  test('registry → harbor with a destination namespace: one project, created once', async () => {
    const from = await registryProvider.source!(context(plain.host))
    const to = await harborProvider.destination!(context(third.host, {namespace: 'mirror'}))
    const report = await migrate({from, to, credentials, limiter: createLimiter({}), toNamespace: 'mirror', routines: 4})
    assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
    assert.equal(report.summary.copied, 2, describeReport(report))
    assert.equal(await skopeoDigest(behind3, 'mirror/app:1.0.0'), await skopeoDigest(plain, 'team/app:1.0.0'))
    assert.equal(await skopeoDigest(behind3, 'mirror/solo:1.0.0'), await skopeoDigest(plain, 'solo:1.0.0'))
    assert.deepEqual(third.projectNames(), ['mirror'])
    assert.equal(third.count({method: 'POST', path: /^\/api\/v2\.0\/projects$/}), 1)
  })

  test('--prune at a Harbor destination removes gone tags by its tag API: a tag sharing a kept digest goes alone, the image stays', async () => {
    // Follows the test above: third holds mirror/app:1.0.0 and mirror/solo:1.0.0.
    const kept = await skopeoDigest(plain, 'team/app:1.0.0')
    const gone = await pushImage(third, 'mirror/app', '0.9.0', {layers: [randomLayer(128, 'harbor:gone')]})
    await pushImage(third, 'mirror/app', 'temp', {layers: [randomLayer(128, 'harbor:gone')]})
    const manifest = await fetch(`${behind3.url}/v2/mirror/app/manifests/1.0.0`, {
      headers: {Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'},
    })
    await fetch(`${third.url}/v2/mirror/app/manifests/1.0.0-old`, {
      method: 'PUT',
      headers: {'content-type': manifest.headers.get('content-type')!, authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`},
      body: Buffer.from(await manifest.arrayBuffer()),
    })
    const from = await registryProvider.source!(context(plain.host))
    const to = await harborProvider.destination!(context(third.host, {namespace: 'mirror'}))
    const report = await migrate({from, to, credentials, limiter: createLimiter({}), toNamespace: 'mirror', routines: 4, prune: true})
    assert.equal(report.prune?.stopped, undefined, describeReport(report))
    assert.deepEqual(report.prune!.pruned.map((each) => `${each.tag} ${each.digest}`).sort(), [
      `0.9.0 ${gone.digest}`,
      `1.0.0-old ${kept}`,
      `temp ${gone.digest}`,
    ])
    assert.deepEqual(
      third.artifacts('mirror/app').flatMap((a) => a.tags),
      ['1.0.0'],
    )
    // Tags only: nothing deleted by digest, the kept image whole behind Harbor.
    assert.equal(third.count({method: 'DELETE', path: /^\/v2\//}), 0)
    assert.equal(third.count({method: 'DELETE', path: /\/tags\//}), 3)
    assert.equal(await skopeoDigest(behind3, 'mirror/app:1.0.0'), kept)
  })

  test('a repository without a project fails its jobs with a clear reason', async () => {
    const from = await registryProvider.source!(context(plain.host))
    const to = await harborProvider.destination!(context(third.host))
    const report = await migrate({from, to, credentials, limiter: createLimiter({}), retry: 0})
    const solo = report.results.find((result) => result.destination.endsWith('/solo:1.0.0'))
    assert.equal(solo?.status, 'failed', describeReport(report))
    assert.match(solo!.error!.message, /names no project; Harbor repositories are project\/name \(use --toNamespace\)/)
  })

  test('throttled API calls (429 with Retry-After, 503) are retried with backoff', async () => {
    source.failNext(1, {status: 429, retryAfter: 1, match: /^\/api\/v2\.0\/projects$/})
    source.failNext(1, {status: 503, match: /\/artifacts$/})
    const from = await harborProvider.source!(context(source.host))
    const started = Date.now()
    const found: SourceRepository[] = []
    for await (const repository of from.repositories()) found.push(repository as SourceRepository)
    assert.ok(Date.now() - started >= 1000, 'Retry-After was honoured')
    assert.deepEqual([...new Set(found.map((r) => r.repository))].sort(), corpus.repositories)
    assert.equal(source.count({status: 429}), 1)
    assert.equal(source.count({status: 503}), 1)
  })

  test('a project that cannot be listed is reported at the end; the others are still enumerated and copied', async () => {
    source.failNext(1, {status: 403, match: /^\/api\/v2\.0\/projects\/alpha\/repositories$/})
    const from = await harborProvider.source!(context(source.host))
    const to = await harborProvider.destination!(context(destination.host))
    const report = await migrate({from, to, credentials, limiter: createLimiter({}), routines: 2})
    assert.equal(report.summary.generateFailed, 1, describeReport(report))
    assert.match(
      report.generateFailures[0]!.message,
      /^harbor: 1 listing failed on 127\.0\.0\.1:\d+: list repositories of project alpha was refused \(403 FORBIDDEN.*the account needs at least the Guest role/,
    )
    const beta = corpus.entries.filter((entry) => entry.repository.startsWith('beta/')).length
    assert.equal(report.summary.skipped, beta, describeReport(report))
  })

  test('bad password: one clear line naming the host, no secret in it', async () => {
    const wrong = parseSecurity(securityYaml('not-the-password'), 'security.yaml')
    for (const build of [
      () => harborProvider.source!(context(source.host, {}, wrong)),
      () => harborProvider.destination!(context(destination.host, {}, wrong)),
    ]) {
      await assert.rejects(build(), (error: unknown) => {
        assert.ok(FerryError.is(error))
        assert.equal(error.code, 'AUTH_FAILED')
        assert.match(
          error.message,
          /^harbor: 127\.0\.0\.1:\d+ refused the credentials given for it \(check the account: 401 UNAUTHORIZED.*; check the username and password for 127\.0\.0\.1:\d+ \(security\.yaml:\d+\)$/,
        )
        assert.ok(!error.message.includes('not-the-password') && !error.message.includes('\n'))
        return true
      })
    }
  })

  test('missing host, missing project, bad project name, not a Harbor: clear errors at the start', async () => {
    await assert.rejects(harborProvider.source!(context(undefined)), /the harbor provider needs the source Harbor host \(--fromRegistry\)/)
    await assert.rejects(harborProvider.destination!(context('')), /the harbor provider needs the destination Harbor host \(--toRegistry\)/)
    await assert.rejects(
      harborProvider.source!(context(source.host, {namespace: 'nope'})),
      /harbor: project "nope" \(--fromNamespace\) was not found on 127\.0\.0\.1:\d+/,
    )
    await assert.rejects(
      harborProvider.destination!(context(destination.host, {namespace: 'Team_'})),
      /cannot put repositories into project "Team_" \(--toNamespace\): a Harbor project name is lowercase/,
    )
    const asHarbor = parseSecurity(`"http://${plain.host}": {username: admin, password: x}\n`, 'security.yaml')
    await assert.rejects(harborProvider.source!(context(plain.host, {}, asHarbor)), /harbor: 127\.0\.0\.1:\d+ does not answer the Harbor v2\.0 API/)
    await assert.rejects(
      harborProvider.source!(context(`http://${source.host}`, {}, parseSecurity('{}', 's.yaml'))),
      /says http:\/\/ but the access given for 127\.0\.0\.1:\d+ does not say insecure: true/,
    )
  })

  test('cli: migrate --from harbor --to harbor, then a wrong password exits 2 with one line', async (t) => {
    if (!existsSync(path.join(ROOT, 'dist', 'providers', 'harbor.js'))) {
      t.skip('dist/ has no harbor provider: run `npm run build` first')
      return
    }
    const security = await work.file('security.yaml', securityYaml(PASSWORD))
    const args = [
      'migrate',
      '--from',
      'harbor',
      '--fromRegistry',
      source.host,
      '--fromNamespace',
      'alpha',
      '--to',
      'harbor',
      '--toRegistry',
      third.host,
      '--securityFile',
      security,
    ]
    // Through a forward proxy, as behind a corporate one: the Harbor API as well as the registry.
    const proxy = createProxy(http.createServer())
    const proxied: string[] = []
    proxy.on('request', (req: http.IncomingMessage) => proxied.push(req.url ?? ''))
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    const run = await runCli(args, {
      env: {FERRY_HARBOR_PAGE_SIZE: '2', HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, NO_PROXY: '', FERRY_PROXY_LOOPBACK: '1'},
    }).finally(() => {
      proxy.closeAllConnections()
      proxy.close()
    })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.ok(
      proxied.some((url) => url.startsWith(`http://${source.host}/api/v2.0/projects`)),
      JSON.stringify(proxied.slice(0, 5)),
    )
    assert.ok(proxied.some((url) => url.startsWith(`http://${third.host}/api/v2.0/projects`)))
    const alpha = corpus.entries.filter((entry) => entry.repository.startsWith('alpha/'))
    assert.match(lines(run.stdout).at(-1) ?? '', new RegExp(`^Finished, 0 transfer jobs failed, 0 jobs generate failed \\(${alpha.length} copied, 0 skipped`))
    for (const entry of alpha) assert.equal(await skopeoDigest(behind3, `${entry.repository}:${entry.tag}`), entry.digest)
    assert.ok(third.projectNames().includes('alpha'))
    assert.match(run.stderr, /harbor: 1 untagged artifact in 127\.0\.0\.1:\d+\/alpha\/app not copied/)

    const wrong = await work.file('wrong.yaml', securityYaml('not-the-password'))
    const refused = await runCli(args.map((arg) => (arg === security ? wrong : arg)))
    assert.equal(refused.code, 2, refused.stdout + refused.stderr)
    assert.equal(lines(refused.stderr).length, 1, refused.stderr)
    assert.match(
      refused.stderr,
      /^Error: harbor: 127\.0\.0\.1:\d+ refused the credentials given for it .*; check the username and password for 127\.0\.0\.1:\d+ \(\S*wrong\.yaml:\d+\)$/m,
    )
    assert.ok(!(refused.stdout + refused.stderr).includes('not-the-password'))
  })
})
