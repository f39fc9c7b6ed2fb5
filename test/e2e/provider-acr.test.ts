// The acr provider end to end: pop-core against the fake ACR API (signatures checked, pages of
// two), images copied between real docker-registry instances. The ACR-side registries accept
// only the fake's temporary login (htpasswd), so every copy proves the token was fetched and used.
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {parseSecurity} from '../../src/config/security.js'
import {FerryError} from '../../src/errors.js'
import {acrProvider} from '../../src/providers/acr.js'
import {AcrTransport} from '../../src/providers/acr-api.js'
import {migrate} from '../../src/providers/migrate.js'
import type {ProviderContext} from '../../src/providers/provider.js'
import {registryProvider} from '../../src/providers/registry.js'
import {createLimiter} from '../../src/registry/limiter.js'
import {seedCorpus, type Corpus} from '../harness/images.js'
import {freePort} from '../harness/free-port.js'
import {startRegistry, type TestRegistry} from '../harness/registry.js'
import {skopeoDigest} from '../harness/skopeo.js'
import {FAKE_ACCESS_KEY_ID, FAKE_ACCESS_KEY_SECRET, startFakeAcr, type FakeAcr, type FakeAcrTree} from '../fakes/acr-api.js'
import {describeReport, lines, runCli, workDir} from './support.js'

const SOURCE_LOGIN = {username: 'cr_temp_user', password: 'ee-source-token-1f2e'}
const DESTINATION_LOGIN = {username: 'cr_temp_user_dst', password: 'ee-destination-token-9a8b'}
const PERSONAL_LOGIN = {username: 'personal_temp', password: 'personal-token-77c1'}
const KEYS = {acr: {secretId: FAKE_ACCESS_KEY_ID, secretKey: FAKE_ACCESS_KEY_SECRET}}

let eeSource: TestRegistry // instance cri-src
let eeDestination: TestRegistry // instance cri-dst
let personalSource: TestRegistry // the personal edition
let plainSource: TestRegistry
let plainDestination: TestRegistry
let cliDestination: TestRegistry
let eeCorpus: Corpus
let personalCorpus: Corpus
let plainCorpus: Corpus
const fakes: FakeAcr[] = []

before(async () => {
  ;[eeSource, eeDestination, personalSource, plainSource, plainDestination, cliDestination] = await Promise.all([
    startRegistry({auth: 'htpasswd', users: {[SOURCE_LOGIN.username]: SOURCE_LOGIN.password}}),
    startRegistry({auth: 'htpasswd', users: {[DESTINATION_LOGIN.username]: DESTINATION_LOGIN.password}}),
    startRegistry({auth: 'htpasswd', users: {[PERSONAL_LOGIN.username]: PERSONAL_LOGIN.password}}),
    startRegistry(),
    startRegistry(),
    startRegistry(),
  ])
  // Three namespaces and three repositories in one: with pages of two, every listing pages.
  ;[eeCorpus, personalCorpus, plainCorpus] = await Promise.all([
    seedCorpus(eeSource, {repositories: ['ns1/app', 'ns1/web', 'ns1/db', 'ns2/api', 'ns3/tool'], tagsPerRepo: 3, layerSize: 256, seed: 'ee'}),
    seedCorpus(personalSource, {repositories: ['pns/alpha', 'pns/beta', 'other/gamma'], tagsPerRepo: 2, layerSize: 256, seed: 'personal'}),
    seedCorpus(plainSource, {repositories: ['team/app', 'team/web', 'tools/cli'], tagsPerRepo: 2, layerSize: 256, seed: 'plain'}),
  ])
})

after(async () => {
  await Promise.all(fakes.map((fake) => fake.stop()))
  await Promise.all([eeSource, eeDestination, personalSource, plainSource, plainDestination, cliDestination].map((registry) => registry?.stop()))
})

/** What the fake API lists: each corpus repository with its tags, plus an empty one. */
function treeOf(corpus: Corpus, extra: FakeAcrTree = {}): FakeAcrTree {
  const tree: FakeAcrTree = {}
  for (const repository of corpus.repositories) {
    const [namespace, name] = repository.split('/') as [string, string]
    ;(tree[namespace] ??= {})[name] = corpus.tags(repository)
  }
  for (const [namespace, repos] of Object.entries(extra)) Object.assign((tree[namespace] ??= {}), repos)
  return tree
}

async function fakeAcr(onRequest?: Parameters<typeof startFakeAcr>[0]['onRequest']): Promise<FakeAcr> {
  const fake = await startFakeAcr({
    maxPageSize: 2,
    instances: {
      'cri-src': {host: eeSource.host, namespaces: treeOf(eeCorpus, {ns2: {empty: []}}), login: SOURCE_LOGIN},
      'cri-dst': {host: eeDestination.host, namespaces: {tools: {}}, login: DESTINATION_LOGIN},
    },
    personal: {host: personalSource.host, namespaces: treeOf(personalCorpus), login: PERSONAL_LOGIN},
    onRequest,
  })
  fakes.push(fake)
  return fake
}

function context(fake: FakeAcr | undefined, settings: ProviderContext['settings'], secrets: ProviderContext['secrets'] = KEYS): ProviderContext {
  const registries = [eeSource, eeDestination, personalSource, plainSource, plainDestination, cliDestination]
  return {
    settings,
    secrets,
    credentials: parseSecurity(registries.map((registry) => `${registry.host}: {insecure: true}\n`).join(''), 'security.yaml'),
    limiter: createLimiter({}),
    env: fake ? {FERRY_ENDPOINT_ACR: fake.endpoint} : {},
  }
}

async function assertCopied(corpus: Corpus, destination: TestRegistry, rename: (repository: string) => string = (r) => r): Promise<void> {
  // skopeo starts slowly; a corpus is at most fifteen images, so all at once.
  const digests = await Promise.all(corpus.entries.map((entry) => skopeoDigest(destination, `${rename(entry.repository)}:${entry.tag}`)))
  assert.deepEqual(
    digests,
    corpus.entries.map((entry) => entry.digest),
  )
}

test('enterprise instance → registry: pages through namespaces, repositories and tags, pulls with the temporary login', async () => {
  const fake = await fakeAcr()
  const sourceContext = context(fake, {region: 'cn-hangzhou', instance: 'cri-src'})
  const from = await acrProvider.source!(sourceContext)
  assert.equal(from.registry, eeSource.host, 'the registry host comes from GetInstanceEndpoint')
  const to = await registryProvider.destination!(context(undefined, {registry: plainDestination.host}))
  const report = await migrate({from, to, credentials: sourceContext.credentials, limiter: sourceContext.limiter, retryBaseMs: 10})
  assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
  assert.equal(report.summary.copied, eeCorpus.entries.length)
  await assertCopied(eeCorpus, plainDestination)

  assert.equal(fake.count('ListNamespace'), 2, 'three namespaces in pages of two')
  assert.equal(fake.count('ListRepository'), 4, 'ns1 holds three repositories: two pages; ns2 and ns3 one each')
  assert.equal(fake.count('ListRepoTag'), 11, 'three tags in pages of two for each of five repositories, one page for the empty one')
  assert.ok(fake.count('GetAuthorizationToken') >= 1)
  assert.ok(
    fake.requests.every((entry) => entry.status === 200),
    'no API call failed',
  )
  await eeSource.requestLog.settle()
  assert.ok(eeSource.requestLog.count({status: 200}) > 0 && eeSource.requestLog.count({status: 401}) >= 1, 'the registry challenged and then took the login')

  // A second run finds every tag in place.
  const again = await migrate({from, to, credentials: sourceContext.credentials, limiter: sourceContext.limiter})
  assert.equal(again.summary.copied, 0, describeReport(again))
  assert.equal(again.summary.skipped, eeCorpus.entries.length)
})

test('--fromNamespace lists one namespace and skips ListNamespace', async () => {
  const fake = await fakeAcr()
  const from = await acrProvider.source!(context(fake, {region: 'cn-hangzhou', instance: 'cri-src', namespace: 'ns2'}))
  const found = []
  for await (const repository of from.repositories()) found.push(repository)
  assert.deepEqual(found, [
    {repository: 'ns2/api', tags: ['1.0.0', '1.1.0', '1.2.0']},
    {repository: 'ns2/empty', tags: []},
  ])
  assert.equal(fake.count('ListNamespace'), 0)
})

test('registry → enterprise instance: namespaces and repositories are created before the first push', async () => {
  const pushesBeforeCreate = new Map<string, number>()
  const fake = await fakeAcr((entry) => {
    if (entry.action !== 'CreateRepository' || entry.status !== 200) return
    const repository = `${entry.params.RepoNamespaceName}/${entry.params.RepoName}`
    const pushes = eeDestination.requestLog.entries.filter(
      (line) => line.method !== 'GET' && line.method !== 'HEAD' && line.path.startsWith(`/v2/${repository}/`),
    )
    pushesBeforeCreate.set(repository, pushes.length)
  })
  const destinationContext = context(fake, {region: 'cn-hangzhou', instance: 'cri-dst'})
  const from = await registryProvider.source!(context(undefined, {registry: plainSource.host}))
  const to = await acrProvider.destination!(destinationContext)
  assert.equal(to.registry, eeDestination.host)
  const report = await migrate({from, to, credentials: destinationContext.credentials, limiter: destinationContext.limiter, retryBaseMs: 10})
  assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
  assert.equal(report.summary.copied, plainCorpus.entries.length)
  await assertCopied(plainCorpus, eeDestination)

  assert.deepEqual(fake.tree('cri-dst'), {team: ['app', 'web'], tools: ['cli']})
  assert.equal(fake.count('CreateNamespace'), 1, '"team" is created once for its two repositories; "tools" already existed')
  assert.equal(fake.count('CreateRepository'), 3)
  assert.deepEqual(Object.fromEntries(pushesBeforeCreate), {'team/app': 0, 'team/web': 0, 'tools/cli': 0})
  const creates = fake.requests.filter((entry) => entry.action.startsWith('Create'))
  assert.ok(
    creates.every((entry) => entry.method === 'POST' && entry.params.RepoType !== 'PUBLIC'),
    'changes go as POST forms; repositories are private',
  )

  const again = await migrate({from, to, credentials: destinationContext.credentials, limiter: destinationContext.limiter})
  assert.equal(again.summary.copied, 0, describeReport(again))
  assert.equal(again.summary.skipped, plainCorpus.entries.length)
  assert.equal(fake.count(/^Create/), 4, 'nothing to create on a second run')
})

test('personal edition → enterprise instance: two logins, one API endpoint', async () => {
  const fake = await fakeAcr()
  const sourceContext = context(fake, {region: 'cn-hangzhou'})
  const from = await acrProvider.source!(sourceContext)
  assert.equal(from.registry, personalSource.host, "the registry host comes from the repositories' repoDomainList")
  const to = await acrProvider.destination!(context(fake, {region: 'cn-hangzhou', instance: 'cri-dst'}))
  const report = await migrate({from, to, credentials: sourceContext.credentials, limiter: sourceContext.limiter, retryBaseMs: 10})
  assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
  assert.equal(report.summary.copied, personalCorpus.entries.length)
  await assertCopied(personalCorpus, eeDestination)
  assert.equal(fake.count('GetRepoTags'), 3, 'two tags per repository: one page each')
  assert.ok(fake.count('GetAuthorizationToken') >= 2, 'a login for each side')
  assert.deepEqual(fake.tree('cri-dst').pns, ['alpha', 'beta'])
  assert.ok(fake.requests.filter((entry) => entry.style === 'roa').every((entry) => entry.status === 200))
})

test('registry → personal edition: PUT /namespace and PUT /repos; nested paths are refused', async () => {
  const fake = await fakeAcr()
  const destinationContext = context(fake, {region: 'cn-hangzhou'})
  const from = await registryProvider.source!(context(undefined, {registry: plainSource.host, namespace: 'tools'}))
  const to = await acrProvider.destination!(destinationContext)
  const report = await migrate({from, to, credentials: destinationContext.credentials, limiter: destinationContext.limiter, toNamespace: 'mirror'})
  assert.equal(report.summary.failed, 0, describeReport(report))
  await assertCopied({...plainCorpus, entries: plainCorpus.entries.filter((entry) => entry.repository === 'tools/cli')}, personalSource, () => 'mirror/cli')
  assert.deepEqual(fake.tree().mirror, ['cli'])
  assert.equal(fake.count('CreateNamespace'), 1)
  assert.equal(fake.count('CreateRepo'), 1)
  await assert.rejects(to.prepare('mirror/a/b'), /personal edition has only namespace\/name/)
  await assert.rejects(to.prepare('single'), /--toNamespace/)
})

test('throttled API calls are retried with backoff and the run succeeds', async () => {
  const fake = await fakeAcr()
  fake.throttle(2, 'GetInstanceEndpoint')
  fake.throttle(2, 'ListRepoTag')
  fake.throttle(1, 'GetRepoListByNamespace')
  const sourceContext = context(fake, {region: 'cn-hangzhou', instance: 'cri-src', namespace: 'ns3'})
  const from = await acrProvider.source!(sourceContext)
  const to = await registryProvider.destination!(context(undefined, {registry: plainDestination.host}))
  const report = await migrate({from, to, credentials: sourceContext.credentials, limiter: sourceContext.limiter, toNamespace: 'throttled'})
  assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
  assert.equal(report.summary.copied, 3)
  assert.equal(fake.count('GetInstanceEndpoint', {status: 400}), 2)
  assert.equal(fake.count('GetInstanceEndpoint'), 3, 'two refusals, then the answer')
  assert.equal(fake.count('ListRepoTag'), 4, 'two refusals, then two pages')

  const personal = await acrProvider.source!(context(fake, {region: 'cn-hangzhou', namespace: 'pns'}))
  assert.equal(personal.registry, personalSource.host)
  assert.equal(fake.count('GetRepoListByNamespace', {status: 400}), 1, 'the ROA side is retried too')
})

test('wrong keys fail at once with one line naming the fix and nothing secret', async () => {
  const fake = await fakeAcr()
  const cases: [ProviderContext['settings'], ProviderContext['secrets'], RegExp][] = [
    [
      {region: 'cn-hangzhou', instance: 'cri-src'},
      {acr: {secretId: FAKE_ACCESS_KEY_ID, secretKey: 'wrong-secret'}},
      /^acr: GetInstanceEndpoint failed with SignatureDoesNotMatch: check secretId\/secretKey/,
    ],
    [
      {region: 'cn-hangzhou'},
      {acr: {secretId: FAKE_ACCESS_KEY_ID, secretKey: 'wrong-secret'}},
      /^acr: GetNamespaceList failed with SignatureDoesNotMatch: check secretId\/secretKey/,
    ],
    [
      {region: 'cn-hangzhou', instance: 'cri-src'},
      {acr: {secretId: 'LTAI5tUnknownKey', secretKey: FAKE_ACCESS_KEY_SECRET}},
      /^acr: GetInstanceEndpoint failed with InvalidAccessKeyId\.NotFound/,
    ],
  ]
  for (const [settings, secrets, expected] of cases) {
    const error = await acrProvider.source!(context(fake, settings, secrets)).then(
      () => assert.fail('expected a failure'),
      (caught: unknown) => caught,
    )
    assert.ok(FerryError.is(error), String(error))
    assert.equal(error.code, 'AUTH_FAILED')
    assert.match(error.message, expected)
    const shown = `${error.message}\n${JSON.stringify(error)}\n${String(error.stack)}`
    for (const secret of [
      FAKE_ACCESS_KEY_ID,
      FAKE_ACCESS_KEY_SECRET,
      'wrong-secret',
      'LTAI5tUnknownKey',
      'Signature=',
      'string to sign',
      'AccessKeyId=',
      'AccessKeyId%3D',
      'http://',
      '127.0.0.1',
    ]) {
      assert.ok(!shown.includes(secret), `${JSON.stringify(secret)} leaked: ${shown}`)
    }
    assert.equal(lines(error.message).length, 1)
  }
  assert.equal(fake.count(/.*/), 3, 'an auth failure is not retried')
})

test('settings that cannot work are refused before any request', async () => {
  const fake = await fakeAcr()
  const cases: [ProviderContext['settings'], ProviderContext['secrets'], 'source' | 'destination', RegExp][] = [
    [{instance: 'cri-src'}, KEYS, 'source', /acr needs the source region \(--fromRegion\)/],
    [{}, KEYS, 'destination', /acr needs the destination region \(--toRegion\)/],
    [{region: 'cn-hangzhou', instance: 'my-registry'}, KEYS, 'source', /--fromInstance must be an enterprise instance id \(cri-…\)/],
    [{region: 'cn-hangzhou', instance: 'cri-src'}, {}, 'source', /acr needs API keys: .*--secretFile/],
    [{region: 'cn-hangzhou', instance: 'cri-src', namespace: 'a/b'}, KEYS, 'source', /one level/],
  ]
  for (const [settings, secrets, side, expected] of cases) {
    const built = side === 'source' ? acrProvider.source!(context(fake, settings, secrets)) : acrProvider.destination!(context(fake, settings, secrets))
    await assert.rejects(built, expected)
  }
  assert.equal(fake.requests.length, 0)
  await assert.rejects(
    acrProvider.source!(context(fake, {region: 'cn-hangzhou', instance: 'cri-missing'})),
    /^ConfigError: acr: GetInstanceEndpoint failed with INSTANCE_NOT_EXIST: check the instance id \(--fromInstance\) and .*--fromRegion/,
  )
})

test('an unreachable API endpoint is retried, then named without the signed URL', async () => {
  const endpoint = `http://127.0.0.1:${await freePort()}`
  const api = await AcrTransport.open({
    endpoint,
    accessKeyId: FAKE_ACCESS_KEY_ID,
    accessKeySecret: FAKE_ACCESS_KEY_SECRET,
    limiter: createLimiter({}),
    side: 'source',
    attempts: 2,
    retryBaseMs: 5,
  })
  for (const call of [() => api.rpc('ListNamespace', {InstanceId: 'cri-src'}), () => api.roa('GetNamespaceList', 'GET', '/namespace')]) {
    const error = await call().then(
      () => assert.fail('expected a failure'),
      (caught: unknown) => caught,
    )
    assert.ok(FerryError.is(error))
    assert.match(error.message, /^acr: (ListNamespace|GetNamespaceList) failed with ECONNREFUSED \(no answer from the API endpoint\): try again later$/)
    assert.equal(error.retryable, true)
    const shown = `${error.message}${JSON.stringify(error)}`
    assert.ok(!shown.includes(FAKE_ACCESS_KEY_ID) && !shown.includes('Signature') && !shown.includes(endpoint), shown)
  }
})

test('a listing failure mid-run is reported, not dropped', async () => {
  const fake = await fakeAcr()
  fake.fail(1, 'ListRepoTag', 'REPO_NOT_EXIST')
  const sourceContext = context(fake, {region: 'cn-hangzhou', instance: 'cri-src', namespace: 'ns1'})
  const from = await acrProvider.source!(sourceContext)
  const to = await registryProvider.destination!(context(undefined, {registry: plainDestination.host}))
  const report = await migrate({from, to, credentials: sourceContext.credentials, limiter: sourceContext.limiter, toNamespace: 'partial'})
  assert.equal(report.summary.generateFailed, 1, describeReport(report))
  assert.match(report.generateFailures[0]!.message, /acr: ListRepoTag failed with REPO_NOT_EXIST/)
})

test('CLI: migrate --from acr --fromInstance … --to registry, then wrong keys exit 2', async () => {
  const fake = await fakeAcr()
  const dir = await workDir()
  try {
    const security = await dir.file('security.yaml', `${eeSource.host}: {insecure: true}\n${cliDestination.host}: {insecure: true}\n`)
    const secrets = await dir.file('secret.yaml', `acr:\n  secretId: ${FAKE_ACCESS_KEY_ID}\n  secretKey: ${FAKE_ACCESS_KEY_SECRET}\n`)
    const base = [
      'migrate',
      '--from',
      'acr',
      '--fromRegion',
      'cn-hangzhou',
      '--fromInstance',
      'cri-src',
      '--to',
      'registry',
      '--toRegistry',
      cliDestination.host,
      '--securityFile',
      security,
    ]
    const env = {FERRY_ENDPOINT_ACR: fake.endpoint}
    const run = await runCli([...base, '--secretFile', secrets], {env})
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
    await assertCopied(eeCorpus, cliDestination)
    assert.ok(!`${run.stdout}${run.stderr}`.includes(SOURCE_LOGIN.password), 'the temporary login is not printed')

    const wrong = await dir.file('wrong.yaml', `acr:\n  secretId: ${FAKE_ACCESS_KEY_ID}\n  secretKey: not-the-secret\n`)
    const failed = await runCli([...base, '--secretFile', wrong], {env})
    assert.equal(failed.code, 2, `${failed.stdout}\n${failed.stderr}`)
    const output = `${failed.stdout}${failed.stderr}`
    assert.equal(lines(failed.stderr).length, 1, failed.stderr)
    assert.match(
      failed.stderr,
      /^Error: acr: GetInstanceEndpoint failed with SignatureDoesNotMatch: check secretId\/secretKey under "acr" in the secret file \(--secretFile\)/,
    )
    for (const secret of [FAKE_ACCESS_KEY_ID, FAKE_ACCESS_KEY_SECRET, 'not-the-secret', 'Signature=', fake.endpoint]) {
      assert.ok(!output.includes(secret), `${secret} leaked: ${output}`)
    }

    const noRegion = await runCli(
      ['migrate', '--from', 'acr', '--fromInstance', 'cri-src', '--to', 'registry', '--toRegistry', cliDestination.host, '--secretFile', secrets],
      {env},
    )
    assert.equal(noRegion.code, 2)
    assert.match(noRegion.stderr, /acr needs the source region \(--fromRegion\)/)
  } finally {
    await dir.cleanup()
  }
})
