// The swr provider end to end: Huawei's own SDK against the fake SWR API (SDK-HMAC-SHA256 checked,
// bare-array pages of two with Content-Range, APIG.0308 throttling, gateway auth errors), images
// copied between real docker-registry instances. The SWR-side registries accept only the
// long-term login derived from the test key (htpasswd `<region>@<AK>`), so every copy proves the
// login was derived and used; nobody wrote a password for them.
import assert from 'node:assert/strict'
import path from 'node:path'
import {after, before, test} from 'node:test'

import {parseSecurity} from '../../src/config/security.js'
import {migrate} from '../../src/providers/migrate.js'
import type {ProviderContext} from '../../src/providers/provider.js'
import {registryProvider} from '../../src/providers/registry.js'
import {swrProvider} from '../../src/providers/swr.js'
import {createLimiter} from '../../src/registry/limiter.js'
import {seedCorpus, type Corpus} from '../harness/images.js'
import {startRegistry, type TestRegistry} from '../harness/registry.js'
import {skopeoDigest} from '../harness/skopeo.js'
import {startFakeK8s} from '../fakes/k8s-api.js'
import {FAKE_SWR_AK, FAKE_SWR_PROJECT, FAKE_SWR_SK, startFakeSwr, type FakeSwr, type FakeSwrTree} from '../fakes/swr-api.js'
import {describeReport, lines, runCli, workDir} from './support.js'

const REGION = 'cn-north-4'
// Computed independently of ferry: printf AK | openssl dgst -sha256 -hmac SK
const LOGIN = {username: `${REGION}@${FAKE_SWR_AK}`, password: '5994eba8a3ccdf7b3d509cee4250fc9816850e31b29b6a88c0a1abf40dfca9f0'}
const KEYS: ProviderContext['secrets'] = {swr: {secretId: FAKE_SWR_AK, secretKey: FAKE_SWR_SK, projectId: FAKE_SWR_PROJECT, region: REGION}}
const SECRET_YAML = `swr:\n  ak: ${FAKE_SWR_AK}\n  sk: ${FAKE_SWR_SK}\n  region: ${REGION}\n  projectId: ${FAKE_SWR_PROJECT}\n`

let swrSource: TestRegistry
let swrDestination: TestRegistry
let plainSource: TestRegistry
let plainDestination: TestRegistry
let swrCorpus: Corpus
let plainCorpus: Corpus
const fakes: FakeSwr[] = []

before(async () => {
  ;[swrSource, swrDestination, plainSource, plainDestination] = await Promise.all([
    startRegistry({auth: 'htpasswd', users: {[LOGIN.username]: LOGIN.password}}),
    startRegistry({auth: 'htpasswd', users: {[LOGIN.username]: LOGIN.password}}),
    startRegistry(),
    startRegistry(),
  ])
  // Three organizations, three repositories in one (one of them nested): with pages of two, the listings page.
  ;[swrCorpus, plainCorpus] = await Promise.all([
    seedCorpus(swrSource, {
      repositories: ['ns1/app', 'ns1/web', 'ns1/deep/path', 'ns2/api', 'ns3/tool'],
      tagsPerRepo: 3,
      layerSize: 256,
      indexEvery: 0,
      seed: 'swr',
    }),
    seedCorpus(plainSource, {
      repositories: ['team/app', 'team/web', 'tools/cli', 'bad--name/app'],
      tagsPerRepo: 2,
      layerSize: 256,
      indexEvery: 0,
      seed: 'plain',
    }),
  ])
})

after(async () => {
  await Promise.all(fakes.map((fake) => fake.stop()))
  await Promise.all([swrSource, swrDestination, plainSource, plainDestination].map((registry) => registry?.stop()))
})

/** The source corpus as SWR lists it; ns2/api's tags were pushed out of name order (its update times say 1.2.0 is the oldest). */
function sourceTree(): FakeSwrTree {
  const tree: FakeSwrTree = {}
  for (const repository of swrCorpus.repositories) {
    const [organization, ...rest] = repository.split('/')
    ;(tree[organization!] ??= {})[rest.join('/')] = swrCorpus.tags(repository)
  }
  tree.ns2!.api = ['1.2.0', '1.0.0', '1.1.0']
  return tree
}

async function fakeSwr(
  organizations: FakeSwrTree,
  onRequest?: Parameters<typeof startFakeSwr>[0] extends infer O ? (O extends {onRequest?: infer R} ? R : never) : never,
) {
  const fake = await startFakeSwr({projectId: FAKE_SWR_PROJECT, maxPageSize: 2, organizations, onRequest})
  fakes.push(fake)
  return fake
}

function context(fake: FakeSwr | undefined, settings: ProviderContext['settings'], secrets: ProviderContext['secrets'] = KEYS): ProviderContext {
  const registries = [swrSource, swrDestination, plainSource, plainDestination]
  return {
    settings,
    secrets,
    credentials: parseSecurity(registries.map((registry) => `${registry.host}: {insecure: true}\n`).join(''), 'security.yaml'),
    limiter: createLimiter({}),
    env: fake ? {FERRY_ENDPOINT_SWR: fake.endpoint} : {},
  }
}

async function assertCopied(entries: {repository: string; tag: string; digest: string}[], destination: TestRegistry, rename: (r: string) => string = (r) => r) {
  const digests = await Promise.all(entries.map((entry) => skopeoDigest(destination, `${rename(entry.repository)}:${entry.tag}`)))
  assert.deepEqual(
    digests,
    entries.map((entry) => entry.digest),
  )
}

test('swr → registry: organizations, paged repositories (a nested one as $) and tags, pulled with the derived login; a second run copies nothing', async () => {
  const fake = await fakeSwr(sourceTree())
  fake.throttle(1, 'ListReposDetails')
  const sourceContext = context(fake, {region: REGION, registry: swrSource.host})
  const from = await swrProvider.source!(sourceContext)
  const to = await registryProvider.destination!(context(undefined, {registry: plainDestination.host}))
  const report = await migrate({from, to, credentials: sourceContext.credentials, limiter: sourceContext.limiter, retryBaseMs: 10})
  assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
  assert.equal(report.summary.copied, swrCorpus.entries.length)
  await assertCopied(swrCorpus.entries, plainDestination)

  assert.equal(fake.count('ListNamespaces'), 1)
  assert.equal(fake.count('ListReposDetails', {status: 429}), 1, 'throttled once (APIG.0308)')
  assert.equal(fake.count('ListReposDetails', {status: 200}), 4, 'ns1 holds three repositories: two pages; ns2 and ns3 one each')
  assert.equal(fake.count('ListRepositoryTags'), 10, 'three tags in pages of two for each of five repositories')
  assert.ok(
    fake.requests.some((entry) => entry.path === '/v2/manage/namespaces/ns1/repos/deep$path/tags'),
    "a '/' inside a repository name travels as '$'",
  )
  assert.ok(fake.requests.every((entry) => entry.status === 200 || entry.status === 429))
  await swrSource.requestLog.settle()
  assert.ok(swrSource.requestLog.count({status: 401}) >= 1 && swrSource.requestLog.count({status: 200}) > 0, 'the registry challenged, then took the login')

  const again = await migrate({from, to, credentials: sourceContext.credentials, limiter: sourceContext.limiter})
  assert.equal(again.summary.copied, 0, describeReport(again))
  assert.equal(again.summary.skipped, swrCorpus.entries.length)
})

test('--fromNamespace and the newest N tags by update time, not by name', async () => {
  const fake = await fakeSwr(sourceTree())
  const from = await swrProvider.source!(context(fake, {region: REGION, registry: swrSource.host, namespace: 'ns2', tagNums: '2'}))
  const found = []
  for await (const repository of from.repositories()) found.push(repository)
  assert.deepEqual(found, [{repository: 'ns2/api', tags: ['1.1.0', '1.0.0'], omittedTags: 1}])
  assert.equal(fake.count('ListReposDetails'), 1)
  await assert.rejects(swrProvider.source!(context(fake, {region: REGION, namespace: 'nope'})), /^ConfigError: swr: no organization nope in region cn-north-4/)
})

test('registry → swr: organizations created once before their first push; a name SWR refuses is one line, never pushed', async () => {
  const pushesBeforeCreate = new Map<string, number>()
  const fake = await fakeSwr({tools: {}}, (entry) => {
    if (entry.action !== 'CreateNamespace' || entry.status !== 201) return
    const organization = (entry.body as {namespace: string}).namespace
    const pushes = swrDestination.requestLog.entries.filter(
      (line) => line.method !== 'GET' && line.method !== 'HEAD' && line.path.startsWith(`/v2/${organization}/`),
    )
    pushesBeforeCreate.set(organization, pushes.length)
  })
  const destinationContext = context(fake, {region: REGION, registry: swrDestination.host})
  const from = await registryProvider.source!(context(undefined, {registry: plainSource.host}))
  const to = await swrProvider.destination!(destinationContext)
  const report = await migrate({from, to, credentials: destinationContext.credentials, limiter: destinationContext.limiter, retryBaseMs: 10})
  const good = plainCorpus.entries.filter((entry) => !entry.repository.startsWith('bad--name/'))
  assert.equal(report.summary.copied, good.length, describeReport(report))
  assert.equal(report.summary.failed, 0, describeReport(report))
  assert.equal(report.summary.generateFailed, 1, describeReport(report))
  assert.match(
    report.generateFailures[0]!.message,
    /^swr: destination bad--name\/app breaks SWR's naming rules: organization "bad--name": .*no two separators side by side/,
  )
  assert.equal(lines(report.generateFailures[0]!.message).length, 1)
  await assertCopied(good, swrDestination)

  assert.deepEqual(fake.tree(), {team: [], tools: []}, 'SWR makes the repositories on push; ferry only the organization')
  assert.equal(fake.count('CreateNamespace'), 1, '"team" once for its two repositories; "tools" was there')
  assert.deepEqual(Object.fromEntries(pushesBeforeCreate), {team: 0})
  await swrDestination.requestLog.settle()
  assert.ok(!swrDestination.requestLog.entries.some((line) => line.path.includes('bad--name')), 'nothing of the refused repository reached the registry')

  const again = await migrate({from, to, credentials: destinationContext.credentials, limiter: destinationContext.limiter})
  assert.equal(again.summary.copied, 0, describeReport(again))
  assert.equal(again.summary.skipped, good.length)
  assert.equal(fake.count('CreateNamespace'), 1, 'nothing to create on a second run')
})

test('an organization someone else created meanwhile (409) counts as made', async () => {
  const fake = await fakeSwr({})
  const to = await swrProvider.destination!(context(fake, {region: REGION, registry: swrDestination.host}))
  fake.fail(1, 'CreateNamespace', 409)
  await to.prepare('raced/app')
  assert.equal(fake.count('CreateNamespace', {status: 409}), 1)
  await assert.rejects(to.prepare('x'), /has no organization/)
})

test('CLI: migrate --from swr; wrong keys and a missing permission are one line with code and request id; no SDK log, no secret', async () => {
  const fake = await fakeSwr(sourceTree())
  const dir = await workDir()
  try {
    const security = await dir.file('security.yaml', `${swrSource.host}: {insecure: true}\n${plainDestination.host}: {insecure: true}\n`)
    const secrets = await dir.file('secret.yaml', SECRET_YAML)
    const base = [
      'migrate',
      '--from',
      'swr',
      '--from-registry',
      swrSource.host,
      '--from-namespace',
      'ns3',
      '--to',
      'registry',
      '--to-registry',
      plainDestination.host,
    ]
    const args = [...base, '--to-namespace', 'cli', '--securityFile', security]
    const env = {FERRY_ENDPOINT_SWR: fake.endpoint}
    const run = await runCli([...args, '--secretFile', secrets], {env})
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
    await assertCopied(
      swrCorpus.entries.filter((entry) => entry.repository === 'ns3/tool'),
      plainDestination,
      () => 'cli/tool',
    )

    const wrong = await dir.file('wrong.yaml', SECRET_YAML.replace(FAKE_SWR_SK, 'not-the-sk'))
    const failed = await runCli([...args, '--secretFile', wrong], {env})
    assert.equal(failed.code, 2, `${failed.stdout}\n${failed.stderr}`)
    assert.equal(lines(failed.stderr).length, 1, failed.stderr)
    assert.match(failed.stderr, /^Error: swr: ListNamespaces failed with APIGW\.0301 \(request [0-9a-f]{32}\): check ak\/sk under "swr"/)

    // Keys from the SDK's environment variables; a gateway refusal names the IAM action to grant.
    fake.fail(1, 'ListNamespaces', 403, 'APIGW.0302')
    const denied = await runCli([...args, '--from-region', REGION], {
      env: {...env, HUAWEICLOUD_SDK_AK: FAKE_SWR_AK, HUAWEICLOUD_SDK_SK: FAKE_SWR_SK, HUAWEICLOUD_SDK_PROJECT_ID: FAKE_SWR_PROJECT},
    })
    assert.equal(denied.code, 2, `${denied.stdout}\n${denied.stderr}`)
    assert.equal(lines(denied.stderr).length, 1, denied.stderr)
    assert.match(denied.stderr, /failed with APIGW\.0302 \(request [0-9a-f]{32}\): the key's IAM user may not call swr:namespace:listNamespaces/)

    const output = [run, failed, denied].map((r) => `${r.stdout}${r.stderr}`).join('')
    for (const secret of [FAKE_SWR_SK, 'not-the-sk', LOGIN.password, 'SDK-HMAC-SHA256', 'Signature=', 'X-Sdk-Date', 'Authorization', 'log4js', 'HcClient']) {
      assert.ok(!output.includes(secret), `${secret} leaked: ${output}`)
    }
    assert.ok(
      fake.requests.some((entry) => entry.authorization?.includes('Signature=')),
      'the requests were signed',
    )
  } finally {
    await dir.cleanup()
  }
})

test("image-migrator's path: config k8s → transfer --auth --images into SWR with keys, no password; a refused name stops it before any copy", async () => {
  const fake = await fakeSwr({})
  const k8s = await startFakeK8s([
    {kind: 'Deployment', namespace: 'shop', name: 'web', spec: {template: {spec: {containers: [{name: 'web', image: `${plainSource.host}/team/web:1.1.0`}]}}}},
    {kind: 'Pod', namespace: 'shop', name: 'cli', spec: {containers: [{name: 'cli', image: `${plainSource.host}/tools/cli:1.0.0`}]}},
  ])
  const dir = await workDir()
  try {
    const kubeconfig = await k8s.writeKubeconfig(path.join(dir.dir, 'kubeconfig'))
    const images = path.join(dir.dir, 'images.yaml')
    const generated = await runCli(['config', 'k8s', '--kubeconfig', kubeconfig, '-t', `${swrDestination.host}/k8s-org`, '-o', images])
    assert.equal(generated.code, 0, generated.stderr)
    const auth = await dir.file('auth.json', JSON.stringify({[plainSource.host]: {insecure: true}, [swrDestination.host]: {insecure: true}}))
    const secrets = await dir.file('secret.yaml', SECRET_YAML)
    const env = {FERRY_ENDPOINT_SWR: fake.endpoint, DOCKER_CONFIG: dir.dir}
    const args = ['transfer', '--auth', auth, '--images', images, '--registry', swrDestination.host, '--namespace', 'k8s-org']
    const swrArgs = ['--swr-registry', swrDestination.host, '--secretFile', secrets, '--json']

    const withoutKeys = await runCli([...args, '--json'], {env})
    assert.equal(withoutKeys.code, 1, 'without SWR keys nobody logs in to the SWR registry')

    const run = await runCli([...args, ...swrArgs], {env})
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
    assert.equal(JSON.parse(run.stdout).summary.copied, 2)
    const web = plainCorpus.entries.find((entry) => entry.repository === 'team/web' && entry.tag === '1.1.0')!
    const cli = plainCorpus.entries.find((entry) => entry.repository === 'tools/cli' && entry.tag === '1.0.0')!
    assert.equal(await skopeoDigest(swrDestination, 'k8s-org/web:1.1.0'), web.digest)
    assert.equal(await skopeoDigest(swrDestination, 'k8s-org/cli:1.0.0'), cli.digest)
    assert.deepEqual(fake.tree(), {'k8s-org': []})
    assert.equal(fake.count('CreateNamespace'), 1)
    assert.ok(!`${run.stdout}${run.stderr}`.includes(LOGIN.password) && !`${run.stdout}${run.stderr}`.includes(FAKE_SWR_SK))

    const again = await runCli([...args, ...swrArgs], {env})
    assert.equal(again.code, 0, again.stderr)
    assert.equal(JSON.parse(again.stdout).summary.copied, 0)
    assert.equal(fake.count('CreateNamespace'), 1)

    // A plain image list into an organization SWR refuses: one line naming it and the rule, nothing copied.
    const list = await dir.file('list.txt', `${plainSource.host}/team/app:1.0.0\n`)
    await swrDestination.requestLog.settle()
    const before = swrDestination.requestLog.entries.length
    const refused = await runCli(
      ['transfer', '--auth', auth, '--images', list, '--registry', swrDestination.host, '--namespace', '1org', ...swrArgs.slice(0, -1)],
      {
        env,
      },
    )
    assert.equal(refused.code, 2, `${refused.stdout}\n${refused.stderr}`)
    assert.equal(lines(refused.stderr).length, 1, refused.stderr)
    assert.match(refused.stderr, /swr: destination .* breaks SWR's naming rules: organization/)
    await swrDestination.requestLog.settle()
    assert.equal(swrDestination.requestLog.entries.length, before, 'nothing reached the registry')
  } finally {
    await dir.cleanup()
    await k8s.stop()
  }
})

test('a standing transfer into an SWR host with SWR keys is refused in one line, not run without its login and organizations', async () => {
  const dir = await workDir()
  try {
    const secrets = await dir.file('secret.yaml', SECRET_YAML)
    const list = await dir.file('list.txt', `${plainSource.host}/team/app:1.0.0\n`)
    const run = await runCli(
      ['transfer', '--images', list, '--registry', `swr.${REGION}.myhuaweicloud.com`, '--namespace', 'org', '--secretFile', secrets, '--interval', '1h'],
      {timeoutMs: 20_000},
    )
    assert.equal(run.code, 2, `${run.stdout}\n${run.stderr}`)
    assert.equal(lines(run.stderr).length, 1, run.stderr)
    assert.match(run.stderr, /SWR destination .* in one run for now; drop --schedule, --interval and --listen/)
  } finally {
    await dir.cleanup()
  }
})
