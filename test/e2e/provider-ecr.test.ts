// The ecr provider: the real @aws-sdk/client-ecr against a fake ECR API (SigV4 checked), with
// real docker-registry instances behind each account's proxyEndpoint. The registries accept only
// user AWS with the fake's token password, so every copy proves the token from
// GetAuthorizationToken is what ferry logs in with.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'
import {parseSecurity} from '../../src/config/security.js'
import {FerryError} from '../../src/errors.js'
import {ecrProvider} from '../../src/providers/ecr.js'
import {migrate} from '../../src/providers/migrate.js'
import type {ProviderContext, SourceRepository} from '../../src/providers/provider.js'
import {registryProvider} from '../../src/providers/registry.js'
import {createLimiter, type RequestLimiter} from '../../src/registry/limiter.js'
import type {TransferReport} from '../../src/engine/run.js'
import {clientFor, seedCorpus, skopeoDigest, skopeoTags, startRegistry, type Corpus, type TestRegistry} from '../harness/index.js'
import {awsEnv, startFakeEcr, type FakeEcr} from '../fakes/ecr-api.js'
import {describeReport, lines, runCli, workDir} from './support.js'

const SRC_ACCOUNT = '111111111111'
const DST_ACCOUNT = '222222222222'
const SRC_PASSWORD = 'ecr-src-token-password'
const DST_PASSWORD = 'ecr-dst-token-password'
const WRONG_SECRET = 'wrong-secret-must-never-be-printed'
const REGION = 'us-east-1'

describe('ecr provider against a fake ECR API and real registries', () => {
  let srcRegistry: TestRegistry
  let dstRegistry: TestRegistry
  let plain: TestRegistry
  let fake: FakeEcr
  let corpus: Corpus
  let plainCorpus: Corpus
  /** Repositories the destination registry already held when CreateRepository was called for them. */
  const pushedBeforeCreate: string[] = []

  before(async () => {
    ;[srcRegistry, dstRegistry, plain] = await Promise.all([
      startRegistry({auth: 'htpasswd', users: {AWS: SRC_PASSWORD}}),
      startRegistry({auth: 'htpasswd', users: {AWS: DST_PASSWORD}}),
      startRegistry(),
    ])
    corpus = await seedCorpus(srcRegistry, {
      repositories: ['team/app-a', 'team/sub/app-b', 'tools/cli'],
      tagsPerRepo: 3,
      layerSize: 256,
      indexEvery: 4,
    })
    plainCorpus = await seedCorpus(plain, {repositories: ['lib/base-x', 'lib/base-y'], tagsPerRepo: 2, layerSize: 256, seed: 'plain', indexEvery: 0})
    const srcRepositories: Record<string, {tags: Record<string, string>; untagged?: string[]}> = {}
    for (const entry of corpus.entries) {
      ;(srcRepositories[entry.repository] ??= {tags: {}}).tags[entry.tag] = entry.digest
    }
    // An untagged image (ListImages must filter it out) and an empty repository (nothing to copy).
    srcRepositories['team/app-a']!.untagged = [`sha256:${'0'.repeat(64)}`]
    srcRepositories['empty/repo'] = {tags: {}}
    fake = await startFakeEcr({
      accounts: {
        [SRC_ACCOUNT]: {proxyEndpoint: srcRegistry.url, password: SRC_PASSWORD, repositories: srcRepositories},
        [DST_ACCOUNT]: {proxyEndpoint: dstRegistry.url, password: DST_PASSWORD},
      },
      pageSize: 2,
    })
    fake.onCreateRepository = async (account, repository) => {
      if (account !== DST_ACCOUNT) return
      const answer = await clientFor(dstRegistry).request('GET', `/v2/${repository}/tags/list`)
      if (answer.status !== 404) pushedBeforeCreate.push(repository)
    }
    delete process.env.AWS_REGION
    delete process.env.AWS_DEFAULT_REGION
    delete process.env.AWS_PROFILE
    Object.assign(process.env, awsEnv(fake))
  })

  after(async () => {
    await Promise.all([srcRegistry?.stop(), dstRegistry?.stop(), plain?.stop(), fake?.stop()])
  })

  function context(settings: ProviderContext['settings'], options: {secrets?: ProviderContext['secrets']; limiter?: RequestLimiter} = {}): ProviderContext {
    return {
      settings,
      secrets: options.secrets ?? {},
      // Only the plain registry needs an entry: the ECR side's access (login, plain HTTP) comes from the provider.
      credentials: parseSecurity(`${plain.host}: {insecure: true}\n`, 'security.yaml'),
      limiter: options.limiter ?? createLimiter({}),
      env: process.env,
    }
  }

  async function run(
    fromContext: ProviderContext,
    toContext: ProviderContext,
    kinds: {from: 'ecr' | 'registry'; to: 'ecr' | 'registry'},
    options: {toNamespace?: string; routines?: number; qps?: number; latest?: number} = {},
  ): Promise<TransferReport> {
    const from = await (kinds.from === 'ecr' ? ecrProvider : registryProvider).source!(fromContext)
    const to = await (kinds.to === 'ecr' ? ecrProvider : registryProvider).destination!(toContext)
    const limiter = createLimiter({qps: options.qps})
    try {
      return await migrate({
        from,
        to,
        credentials: fromContext.credentials,
        limiter,
        toNamespace: options.toNamespace,
        routines: options.routines ?? 3,
        retryBaseMs: 10,
        ...(options.latest ? {tagSelection: {latest: options.latest}} : {}),
      })
    } finally {
      await limiter.stop()
    }
  }

  const tagged = (c: Corpus, keep: (repository: string) => boolean = () => true) => c.entries.filter((e) => keep(e.repository))

  test('ECR to ECR across accounts: every tag copied with the token logins, repositories created first; a second run copies nothing', async () => {
    const creates = fake.count('CreateRepository')
    const report = await run(context({region: REGION, instance: SRC_ACCOUNT}), context({region: REGION, instance: DST_ACCOUNT}), {from: 'ecr', to: 'ecr'})
    assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
    assert.equal(report.summary.copied, corpus.entries.length, describeReport(report))
    for (const entry of corpus.entries) {
      assert.equal(await skopeoDigest(dstRegistry, `${entry.repository}:${entry.tag}`), entry.digest, `${entry.repository}:${entry.tag}`)
    }
    // The empty repository gave no job and no repository at the destination.
    assert.deepEqual(fake.repositoryNames(DST_ACCOUNT), [...corpus.repositories].sort())
    assert.equal(fake.count('CreateRepository') - creates, corpus.repositories.length)
    assert.deepEqual(pushedBeforeCreate, [])
    // Pagination really happened, and untagged images were never asked for.
    assert.ok(fake.count('DescribeRepositories') >= 2)
    const listings = fake.requests.filter((r) => r.action === 'ListImages')
    assert.ok(
      listings.some((r) => typeof r.input.nextToken === 'string'),
      'ListImages was paginated',
    )
    assert.ok(listings.every((r) => (r.input.filter as {tagStatus?: string}).tagStatus === 'TAGGED'))
    assert.ok(listings.every((r) => r.input.registryId === SRC_ACCOUNT))

    const createsBefore = fake.count('CreateRepository')
    const again = await run(context({region: REGION, instance: SRC_ACCOUNT}), context({region: REGION, instance: DST_ACCOUNT}), {from: 'ecr', to: 'ecr'})
    assert.equal(again.summary.copied, 0, describeReport(again))
    assert.equal(again.summary.skipped, corpus.entries.length, describeReport(again))
    assert.equal(again.summary.failed + again.summary.generateFailed, 0, describeReport(again))
    // Nothing to push, so nothing to prepare.
    assert.equal(fake.count('CreateRepository'), createsBefore)
  })

  test('registry to ECR: CreateRepository for each new repository before its first push', async () => {
    const before = fake.requests.length
    const report = await run(
      context({registry: plain.host}),
      context({region: REGION, instance: DST_ACCOUNT}),
      {from: 'registry', to: 'ecr'},
      {toNamespace: 'mirror'},
    )
    assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
    assert.equal(report.summary.copied, plainCorpus.entries.length)
    const created = fake.requests
      .slice(before)
      .filter((r) => r.action === 'CreateRepository' && r.status === 200)
      .map((r) => r.input.repositoryName)
      .sort()
    assert.deepEqual(created, ['mirror/base-x', 'mirror/base-y'])
    assert.deepEqual(pushedBeforeCreate, [])
    for (const entry of plainCorpus.entries) {
      const target = entry.repository.replace(/^lib\//, 'mirror/')
      assert.equal(await skopeoDigest(dstRegistry, `${target}:${entry.tag}`), entry.digest)
    }
  })

  test('ECR to registry with --fromNamespace: only that namespace, through its own pages', async () => {
    const report = await run(
      context({region: REGION, namespace: 'team'}),
      context({registry: plain.host}),
      {from: 'ecr', to: 'registry'},
      {toNamespace: 'copy'},
    )
    const team = tagged(corpus, (r) => r.startsWith('team/'))
    assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
    assert.equal(report.summary.copied, team.length, describeReport(report))
    for (const entry of team) {
      assert.equal(await skopeoDigest(plain, `${entry.repository.replace(/^team\//, 'copy/')}:${entry.tag}`), entry.digest)
    }
    await assert.rejects(skopeoDigest(plain, 'copy/cli:1.0.0'))
  })

  test('--latest applies to the tags ECR lists (not only to tags a registry lists)', async () => {
    const report = await run(
      context({region: REGION, namespace: 'team'}),
      context({registry: plain.host}),
      {from: 'ecr', to: 'registry'},
      {toNamespace: 'newest', latest: 1},
    )
    const team = tagged(corpus, (r) => r.startsWith('team/'))
    const repositories = [...new Set(team.map((e) => e.repository))]
    assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
    assert.equal(report.summary.copied, repositories.length, describeReport(report))
    for (const repository of repositories) {
      const highest = team
        .filter((e) => e.repository === repository)
        .map((e) => e.tag)
        .sort()
        .at(-1)!
      assert.deepEqual(await skopeoTags(plain, repository.replace(/^team\//, 'newest/')), [highest], repository)
    }
  })

  test('a run that outlives the registry login fetches a new one and still succeeds', async () => {
    fake.setTokenTtl(1)
    try {
      const logins = fake.count('GetAuthorizationToken', {status: 200})
      const begun = Date.now()
      // One routine at 25 requests/s keeps the run going well past each 1 s token.
      const report = await run(
        context({region: REGION, namespace: 'tools'}),
        context({registry: plain.host}),
        {from: 'ecr', to: 'registry'},
        {toNamespace: 'refresh', routines: 1, qps: 25},
      )
      assert.equal(report.summary.failed + report.summary.generateFailed, 0, describeReport(report))
      assert.equal(report.summary.copied, tagged(corpus, (r) => r === 'tools/cli').length)
      assert.ok(Date.now() - begun > 1500, 'the run lasted longer than a token')
      const fetched = fake.count('GetAuthorizationToken', {status: 200}) - logins
      assert.ok(fetched >= 2, `GetAuthorizationToken called ${fetched} times`)
    } finally {
      fake.setTokenTtl(12 * 3600)
    }
  })

  test('the secret file wins over the environment; a wrong key fails up front with one line and no secret', async () => {
    const saved = process.env.AWS_SECRET_ACCESS_KEY
    process.env.AWS_SECRET_ACCESS_KEY = WRONG_SECRET
    try {
      const source = await ecrProvider.source!(context({region: REGION}, {secrets: {ecr: {secretId: fake.accessKeyId, secretKey: fake.secretAccessKey}}}))
      assert.equal(source.registry, srcRegistry.host)
      await assert.rejects(ecrProvider.source!(context({region: REGION})), (error: unknown) => {
        assert.ok(FerryError.is(error))
        assert.match(error.message, /^ecr: GetAuthorizationToken failed with InvalidSignatureException: check the AWS access key id and secret/)
        assert.ok(!error.message.includes(WRONG_SECRET) && !error.message.includes('\n'), error.message)
        return true
      })
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = saved
    }
    await assert.rejects(
      ecrProvider.destination!(context({region: REGION}, {secrets: {ecr: {secretId: 'AKIAUNKNOWNKEY000000', secretKey: WRONG_SECRET}}})),
      /^ConfigError: ecr: GetAuthorizationToken failed with UnrecognizedClientException: /,
    )
  })

  test('throttled API calls are retried by ferry, each attempt through the limiter', async () => {
    const inner = createLimiter({})
    let scheduled = 0
    const limiter: RequestLimiter = {
      schedule: (task) => {
        scheduled++
        return inner.schedule(task)
      },
      get started() {
        return inner.started
      },
      stop: () => inner.stop(),
    }
    const before = fake.requests.length
    fake.throttle('GetAuthorizationToken', 1)
    fake.throttle('DescribeRepositories', 1)
    fake.throttle('ListImages', 2)
    const source = await ecrProvider.source!(context({region: REGION, instance: SRC_ACCOUNT}, {limiter}))
    const found: SourceRepository[] = []
    for await (const repository of source.repositories()) found.push(repository as SourceRepository)
    // The empty repository comes with no tags, which the migration skips.
    assert.deepEqual(
      found.map((r) => r.repository),
      ['empty/repo', ...corpus.repositories].sort(),
    )
    assert.deepEqual(found.find((r) => r.repository === 'empty/repo')!.tags, [])
    found.splice(
      found.findIndex((r) => r.repository === 'empty/repo'),
      1,
    )
    for (const repository of found) assert.deepEqual([...repository.tags!].sort(), corpus.tags(repository.repository).sort())
    const seen = fake.requests.slice(before)
    assert.equal(seen.filter((r) => r.error === 'ThrottlingException').length, 4)
    // Ferry's retries, not the SDK's: every request is a first SDK attempt, and each passed the limiter.
    assert.ok(
      seen.every((r) => r.sdkRequest === 'attempt=1; max=1'),
      JSON.stringify(seen.map((r) => r.sdkRequest)),
    )
    assert.equal(scheduled, seen.length)
  })

  test('missing region, a malformed or foreign registry id: clear errors', async () => {
    await assert.rejects(
      ecrProvider.source!(context({})),
      /^ConfigError: ecr: GetAuthorizationToken failed: no AWS region; pass --fromRegion or set AWS_REGION$/,
    )
    await assert.rejects(ecrProvider.destination!(context({})), /pass --toRegion or set AWS_REGION/)
    await assert.rejects(
      ecrProvider.source!(context({region: REGION, instance: 'my-registry'})),
      /ecr: --fromInstance is a registry id, the 12-digit AWS account id/,
    )
    await assert.rejects(
      ecrProvider.destination!(context({region: REGION, instance: '999999999999'})),
      /^ConfigError: ecr: GetAuthorizationToken failed with AccessDeniedException: the AWS identity may not call ecr:GetAuthorizationToken on registry 999999999999/,
    )
  })

  describe('through the CLI', () => {
    let work: Awaited<ReturnType<typeof workDir>>
    let security: string
    before(async () => {
      work = await workDir()
      security = await work.file('security.yaml', `${plain.host}: {insecure: true}\n`)
    })
    after(() => work?.cleanup())

    const cli = (extra: string[], env: NodeJS.ProcessEnv = {}) =>
      runCli(
        [
          'migrate',
          '--from',
          'ecr',
          '--to',
          'registry',
          '--toRegistry',
          plain.host,
          '--fromRegion',
          REGION,
          '--toNamespace',
          'cli',
          '--securityFile',
          security,
          ...extra,
        ],
        {env: {...awsEnv(fake), ...env}},
      )

    test('migrate --from ecr --to registry, with AWS_ENDPOINT_URL_ECR; a second run copies nothing', async () => {
      const first = await cli(['--fromNamespace', 'tools'])
      assert.equal(first.code, 0, first.stdout + first.stderr)
      const count = tagged(corpus, (r) => r === 'tools/cli').length
      assert.match(lines(first.stdout).at(-1) ?? '', new RegExp(`^Finished, 0 transfer jobs failed, 0 jobs generate failed \\(${count} copied, 0 skipped`))
      assert.ok(!/NodeVersionSupportWarning/.test(first.stderr), first.stderr)
      for (const entry of tagged(corpus, (r) => r === 'tools/cli')) {
        assert.equal(await skopeoDigest(plain, `cli/cli:${entry.tag}`), entry.digest)
      }
      const again = await cli(['--fromNamespace', 'tools', '--quiet'])
      assert.equal(again.code, 0, again.stdout + again.stderr)
      assert.match(lines(again.stdout).at(-1) ?? '', new RegExp(`\\(0 copied, ${count} skipped`))
    })

    test('a wrong secret key: exit 2, one line naming the action and the code, no secret', async () => {
      const run = await cli([], {AWS_SECRET_ACCESS_KEY: WRONG_SECRET})
      assert.equal(run.code, 2, run.stdout + run.stderr)
      assert.deepEqual(lines(run.stderr), [
        'Error: ecr: GetAuthorizationToken failed with InvalidSignatureException: check the AWS access key id and secret (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the AWS profile, or ecr: secretId/secretKey in the secret file)',
      ])
      assert.ok(!(run.stdout + run.stderr).includes(WRONG_SECRET))
    })
  })
})
