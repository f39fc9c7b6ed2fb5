// The ccr (personal edition) source and tcr (enterprise edition) destination through the real
// tencentcloud-sdk-nodejs, against a fake tcr API whose data points at two real local registries.
// The destination registry only accepts the login the fake's CreateInstanceToken hands out, and
// the security file holds no password for it: every push proves the temporary token was used.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'
import {parseSecurity, type CredentialStore} from '../../src/config/security.js'
import {FerryError} from '../../src/errors.js'
import {migrate} from '../../src/providers/migrate.js'
import type {ProviderContext} from '../../src/providers/provider.js'
import {ccrProvider, tcrProvider} from '../../src/providers/tcr.js'
import {createLimiter} from '../../src/registry/limiter.js'
import {pushImage, randomLayer, seedCorpus, skopeoDigest, skopeoTags, startRegistry, type TestRegistry} from '../harness/index.js'
import {startFakeTcr, type FakeCcrRepository, type FakeTcr} from '../fakes/tcr-api.js'
import {describeReport, lines, runCli, workDir} from './support.js'

const REGION = 'ap-guangzhou'
const INSTANCE = {id: 'tcr-ferry01', name: 'ferry-prod'}
// What CreateInstanceToken answers, and the only account the destination registry knows.
const LOGIN = {username: '100012345678', token: 'eyJhbGciOiJSUzI1NiJ9.ferry-temporary-login.c2lnbmF0dXJl'}
const NAMESPACES = ['alpha', 'beta', 'gamma', 'delta']
const PER_NAMESPACE = 13
// omega/many: tag names in one order, push times in another, so "newest" cannot mean "last by name".
const MANY_TAGS = [
  {name: 'v1', pushTime: '2021-03-01 10:00:00'},
  {name: 'v2', pushTime: '2020-01-01 10:00:00'},
  {name: 'v3', pushTime: '2022-07-15 08:30:00'},
  {name: 'v4', pushTime: '2019-05-05 05:05:05'},
  {name: 'v5', pushTime: '2020-12-31 23:59:59'},
]

describe('ccr → tcr', () => {
  let source: TestRegistry
  let destination: TestRegistry
  let fake: FakeTcr
  let credentials: CredentialStore
  const digests = new Map<string, string>()
  let bulkRepositories: string[] = []

  before(async () => {
    ;[source, destination] = await Promise.all([startRegistry(), startRegistry({auth: 'htpasswd', users: {[LOGIN.username]: LOGIN.token}})])
    bulkRepositories = NAMESPACES.flatMap((namespace) => Array.from({length: PER_NAMESPACE}, (_, k) => `${namespace}/app-${k}`))
    const corpus = await seedCorpus(source, {repositories: bulkRepositories, tagsPerRepo: 1, layerSize: 128, indexEvery: 0, seed: 'tcr'})
    for (const entry of corpus.entries) digests.set(`${entry.repository}:${entry.tag}`, entry.digest)
    for (const tag of MANY_TAGS) {
      const image = await pushImage(source, 'omega/many', tag.name, {layers: [randomLayer(128, `many:${tag.name}`)]})
      digests.set(`omega/many:${tag.name}`, image.digest)
    }
    const repositories: FakeCcrRepository[] = [
      ...corpus.entries.map((entry) => ({name: entry.repository, tags: [{name: entry.tag, pushTime: '2023-01-01 00:00:00'}]})),
      {name: 'omega/many', tags: MANY_TAGS},
    ]
    fake = await startFakeTcr({
      pageSize: 7,
      ccr: {server: source.host, namespaces: [...NAMESPACES, 'omega'], repositories},
      instances: [
        // Listed first and matched by the loose name filter too: only the exact name may win.
        {id: 'tcr-ferry02', name: `${INSTANCE.name}-2`, region: REGION, publicDomain: '127.0.0.1:9'},
        {id: INSTANCE.id, name: INSTANCE.name, region: REGION, publicDomain: destination.host, namespaces: ['alpha']},
        {id: 'tcr-ferry03', name: INSTANCE.name, region: 'ap-shanghai', publicDomain: '127.0.0.1:9'},
      ],
      login: LOGIN,
    })
    // TLS settings only (plain HTTP); no password anywhere for the destination.
    credentials = parseSecurity(`${source.host}: {insecure: true}\n${destination.host}: {insecure: true}\n`, 'security.yaml')
  })

  after(async () => {
    await Promise.all([source?.stop(), destination?.stop(), fake?.stop()])
  })

  function context(settings: Record<string, string | undefined>, secretKey = fake.secretKey, secretId = fake.secretId): ProviderContext {
    const keys = {secretId, secretKey}
    return {settings, secrets: {ccr: keys, tcr: keys}, credentials, limiter: createLimiter({}), env: {FERRY_ENDPOINT_TCR: fake.url}}
  }

  async function run(from: Record<string, string | undefined>, options: {toNamespace?: string} = {}) {
    const fromContext = context({region: REGION, ...from})
    const toContext = context({region: REGION, instance: INSTANCE.name, namespace: options.toNamespace})
    const [ccr, tcr] = await Promise.all([ccrProvider.source!(fromContext), tcrProvider.destination!(toContext)])
    assert.equal(ccr.registry, source.host, "the registry host is the API's Server")
    assert.equal(tcr.registry, destination.host, "the registry host is the instance's PublicDomain")
    return migrate({from: ccr, to: tcr, credentials, limiter: fromContext.limiter, routines: 8, retryBaseMs: 10, toNamespace: options.toNamespace})
  }

  test('a CCR of 53 repositories copies into TCR; only missing namespaces are created, once each; a second run copies nothing', async () => {
    const before = fake.requests.length
    const report = await run({})
    assert.equal(report.summary.failed, 0, describeReport(report))
    assert.equal(report.summary.generateFailed, 0, describeReport(report))
    assert.equal(report.summary.copied, bulkRepositories.length + MANY_TAGS.length, describeReport(report))
    assert.deepEqual(report.omittedTags, [])
    for (const [reference, digest] of digests) assert.equal(await skopeoDigest(destination, reference), digest, reference)

    const calls = fake.requests.slice(before)
    const count = (action: string) => calls.filter((call) => call.action === action && !call.error).length
    // alpha existed; each other namespace was created exactly once, although 13 repositories went into it.
    assert.deepEqual(fake.created(INSTANCE.id).sort(), ['beta', 'delta', 'gamma', 'omega'])
    assert.equal(count('CreateNamespace'), 4)
    assert.ok(
      calls.every((call) => !call.error),
      JSON.stringify(calls.filter((call) => call.error)),
    )
    // 53 repositories at 7 per page (the fake's cap, whatever Limit asked): paging really happened.
    assert.equal(count('DescribeRepositoryOwnerPersonal'), Math.ceil((bulkRepositories.length + 1) / 7))
    assert.equal(count('DescribeImagePersonal'), bulkRepositories.length + 1)
    assert.equal(count('CreateInstanceToken'), 1, 'one temporary login for the whole run')
    assert.ok(calls.every((call) => call.region === REGION))

    const again = await run({})
    assert.equal(again.summary.copied, 0, describeReport(again))
    assert.equal(again.summary.skipped, bulkRepositories.length + MANY_TAGS.length, describeReport(again))
    assert.equal(fake.count('CreateNamespace'), 4, 'nothing to prepare when nothing is pushed')
  })

  test('the newest N tags by push time are copied and the others reported as omitted', async () => {
    const report = await run({namespace: 'omega', tagNums: '2'}, {toNamespace: 'limited'})
    assert.equal(report.summary.failed, 0, describeReport(report))
    assert.equal(report.summary.copied, 2, describeReport(report))
    assert.deepEqual(report.omittedTags, [{repository: 'omega/many', count: 3}])
    assert.deepEqual((await skopeoTags(destination, 'limited/many')).sort(), ['v1', 'v3'])
    assert.equal(await skopeoDigest(destination, 'limited/many:v3'), digests.get('omega/many:v3'))
    assert.ok(fake.created(INSTANCE.id).includes('limited'))
    assert.ok(fake.count('DescribeNamespacePersonal') >= 1, '--fromNamespace is checked against the account')
  })

  test('throttled API calls are retried with backoff and the run succeeds', async () => {
    const before = fake.requests.length
    fake.throttle('DescribeRepositoryOwnerPersonal', 2)
    fake.throttle('DescribeInstances', 1)
    fake.throttle('CreateNamespace', 1)
    fake.throttle('CreateInstanceToken', 2)
    const report = await run({namespace: 'omega', tagNums: '1'}, {toNamespace: 'throttled'})
    assert.equal(report.summary.failed, 0, describeReport(report))
    assert.equal(report.summary.copied, 1, describeReport(report))
    assert.equal(await skopeoDigest(destination, 'throttled/many:v3'), digests.get('omega/many:v3'))
    const calls = fake.requests.slice(before)
    const answered = (action: string, error?: string) => calls.filter((call) => call.action === action && call.error === error).length
    for (const [action, times] of [
      ['DescribeRepositoryOwnerPersonal', 2],
      ['DescribeInstances', 1],
      ['CreateNamespace', 1],
      ['CreateInstanceToken', 2],
    ] as const) {
      assert.equal(answered(action, 'RequestLimitExceeded'), times, action)
      assert.ok(answered(action) >= 1, `${action} succeeded after being throttled`)
    }
    assert.deepEqual(
      fake.created(INSTANCE.id).filter((name) => name === 'throttled'),
      ['throttled'],
    )
  })

  test('wrong keys: one clear line naming the action and the code, no key in it', async () => {
    const wrongKey = 'wrong-secret-key-0000000000000000'
    for (const make of [() => ccrProvider.source!(context({}, wrongKey)), () => tcrProvider.destination!(context({instance: INSTANCE.name}, wrongKey))]) {
      await assert.rejects(make(), (error: Error) => {
        assert.ok(FerryError.is(error))
        assert.match(
          error.message,
          /^(ccr: DescribeRepositoryOwnerPersonal|tcr: DescribeInstances) failed with AuthFailure\.SignatureFailure: check secretId\/secretKey in the secret file \(--secretFile\)/,
        )
        assert.ok(!error.message.includes(wrongKey) && !error.message.includes(fake.secretKey) && !error.message.includes('\n'), error.message)
        assert.ok(!JSON.stringify(error).includes(wrongKey))
        return true
      })
    }
    await assert.rejects(ccrProvider.source!(context({}, fake.secretKey, 'AKIDnobody')), /failed with AuthFailure\.SecretIdNotFound: check secretId\/secretKey/)
  })

  test('missing instance, namespace, settings or keys: clear errors before anything is copied', async () => {
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => tcrProvider.destination!(context({instance: 'nope'})), /^tcr: no TCR instance named nope in region ap-guangzhou$/],
      [
        () => tcrProvider.destination!(context({instance: INSTANCE.name, region: 'ap-beijing'})),
        /^tcr: no TCR instance named ferry-prod in region ap-beijing$/,
      ],
      // Matches the loose filter (ferry-prod, ferry-prod-2) but names neither.
      [() => tcrProvider.destination!(context({instance: 'ferry'})), /^tcr: no TCR instance named ferry in region/],
      [() => tcrProvider.destination!(context({})), /tcr: name the TCR instance to push to with --toInstance/],
      [() => ccrProvider.source!(context({namespace: 'omeg'})), /^ccr: no CCR namespace omeg in region ap-guangzhou$/],
      [() => ccrProvider.source!({...context({}), secrets: {}}), /ccr: no Tencent Cloud API keys: pass --secretFile/],
      [() => tcrProvider.destination!({...context({instance: INSTANCE.name}), secrets: {}}), /tcr: no Tencent Cloud API keys: pass --secretFile/],
      [() => ccrProvider.source!(context({tagNums: '-3'})), /ccr: the tag limit must be a whole number/],
      [() => ccrProvider.source!({...context({}), env: {FERRY_ENDPOINT_TCR: 'localhost:1'}}), /FERRY_ENDPOINT_TCR must be a URL/],
    ]
    for (const [make, expected] of cases) await assert.rejects(make(), (error: Error) => FerryError.is(error) && expected.test(error.message), String(expected))
    // The instance id works where the name is wanted, as --toInstance says.
    assert.equal((await tcrProvider.destination!(context({instance: INSTANCE.id}))).registry, destination.host)
  })

  describe('through the CLI binary', () => {
    let work: Awaited<ReturnType<typeof workDir>>
    let secretFile: string
    let securityFile: string
    before(async () => {
      work = await workDir()
      secretFile = await work.file('secret.yaml', `ccr:\n  secretId: ${fake.secretId}\n  secretKey: ${fake.secretKey}\n`)
      securityFile = await work.file('security.yaml', `${source.host}: {insecure: true}\n${destination.host}: {insecure: true}\n`)
    })
    after(async () => {
      await work?.cleanup()
    })
    const args = (instance: string, extra: string[] = []) => [
      'migrate',
      '--from',
      'ccr',
      '--to',
      'tcr',
      '--fromRegion',
      REGION,
      '--toRegion',
      REGION,
      '--toInstance',
      instance,
      '--secretFile',
      secretFile,
      '--securityFile',
      securityFile,
      ...extra,
    ]

    test('migrate --from ccr --to tcr copies a namespace (tcr keys borrowed from ccr); exit 0', async () => {
      const result = await runCli(args(INSTANCE.name, ['--fromNamespace', 'gamma', '--toNamespace', 'cli']), {env: {FERRY_ENDPOINT_TCR: fake.url}})
      assert.equal(result.code, 0, result.stdout + result.stderr)
      assert.match(
        lines(result.stdout).at(-1) ?? '',
        new RegExp(`^Finished, 0 transfer jobs failed, 0 jobs generate failed \\(${PER_NAMESPACE} copied, 0 skipped`),
      )
      assert.equal(await skopeoDigest(destination, 'cli/app-0:1.0.0'), digests.get('gamma/app-0:1.0.0'))
      assert.ok(fake.created(INSTANCE.id).includes('cli'))
    })

    test('wrong key → exit 2, one line, no key; unknown instance → exit 2', async () => {
      const wrong = await work.file('wrong.yaml', `tcr:\n  secretId: ${fake.secretId}\n  secretKey: not-the-key-123456\n`)
      const bad = await runCli(
        args(INSTANCE.name).map((arg) => (arg === secretFile ? wrong : arg)),
        {env: {FERRY_ENDPOINT_TCR: fake.url}},
      )
      assert.equal(bad.code, 2, bad.stdout + bad.stderr)
      assert.deepEqual(lines(bad.stderr).filter((line) => line.startsWith('Error:')).length, 1, bad.stderr)
      assert.match(
        bad.stderr,
        /Error: (ccr: DescribeRepositoryOwnerPersonal|tcr: DescribeInstances) failed with AuthFailure\.SignatureFailure: check secretId\/secretKey/,
      )
      assert.ok(!(bad.stdout + bad.stderr).includes('not-the-key-123456'), bad.stderr)
      assert.ok(!bad.stderr.includes('    at '), bad.stderr)

      const missing = await runCli(args('no-such-instance'), {env: {FERRY_ENDPOINT_TCR: fake.url}})
      assert.equal(missing.code, 2, missing.stdout + missing.stderr)
      assert.match(missing.stderr, /Error: tcr: no TCR instance named no-such-instance in region ap-guangzhou/)
    })
  })
})
