// Provider logins that expire in the middle of a run: the real @aws-sdk/client-ecr against the fake
// ECR API, which mints a password per GetAuthorizationToken with a short life, and ECR's registry
// front (test/fakes/ecr-registry-front.ts) before a real docker-registry, refusing an expired token
// with 403 DENIED as ECR does. The destination sits behind the link emulator so that each layer's
// upload outlasts a token, and --qps makes requests queue as a long run's do.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'

import {parseSecurity} from '../../src/config/security.js'
import type {TransferReport} from '../../src/engine/run.js'
import {ecrProvider} from '../../src/providers/ecr.js'
import {migrate} from '../../src/providers/migrate.js'
import type {ProviderContext} from '../../src/providers/provider.js'
import {registryProvider} from '../../src/providers/registry.js'
import {createLimiter} from '../../src/registry/limiter.js'
import {awsEnv, startFakeEcr, type FakeEcr} from '../fakes/ecr-api.js'
import {startEcrRegistryFront, type EcrRegistryFront, type TokenVerdict} from '../fakes/ecr-registry-front.js'
import {randomLayer} from '../harness/blobs.js'
import {pushImage} from '../harness/images.js'
import {startLinkEmulator, type LinkEmulator} from '../harness/link-emulator.js'
import {startRegistry, type TestRegistry} from '../harness/registry.js'
import {skopeoDigest} from '../harness/skopeo.js'
import {describeReport} from './support.js'

const ACCOUNT = '222222222222'
const PASSWORD = 'ecr-dst-token-password'
const TOKEN_TTL_S = 2
const IMAGES = 5

describe('ECR logins that expire during the run', () => {
  let source: TestRegistry
  let destination: TestRegistry
  let front: EcrRegistryFront
  let link: LinkEmulator
  let fake: FakeEcr
  let verdict: (password: string) => TokenVerdict = () => 'unknown'
  const digests: string[] = []

  before(async () => {
    ;[source, destination] = await Promise.all([startRegistry(), startRegistry({auth: 'htpasswd', users: {AWS: PASSWORD}})])
    for (let i = 0; i < IMAGES; i++) {
      const image = await pushImage(source, 'app', `v${i}`, {flavour: 'oci', layers: [randomLayer(384 * 1024, `x${i}a`), randomLayer(384 * 1024, `x${i}b`)]})
      digests.push(image.digest)
    }
    front = await startEcrRegistryFront({upstream: {url: destination.url, username: 'AWS', password: PASSWORD}, verdict: (p) => verdict(p)})
    // 256 KB/s per connection: each 384 KiB layer takes 1.5 s to upload, most of a 2 s token.
    link = await startLinkEmulator(front, {connectionRate: 256 * 1024})
    fake = await startFakeEcr({accounts: {[ACCOUNT]: {proxyEndpoint: link.url, password: PASSWORD}}, tokenTtlSeconds: TOKEN_TTL_S, mintTokens: true})
    Object.assign(process.env, awsEnv(fake))
  })

  after(async () => {
    await Promise.all([source?.stop(), destination?.stop(), front?.stop(), link?.stop(), fake?.stop()])
  })

  function context(settings: ProviderContext['settings']): ProviderContext {
    return {
      settings,
      secrets: {},
      credentials: parseSecurity(`${source.host}: {insecure: true}\n`, 'security.yaml'),
      limiter: createLimiter({}),
      env: process.env,
    }
  }

  async function run(toNamespace: string, options: {chunkSize?: number} = {}): Promise<TransferReport> {
    const from = await registryProvider.source!(context({registry: source.host}))
    const to = await ecrProvider.destination!(context({region: 'us-east-1', instance: ACCOUNT}))
    const limiter = createLimiter({qps: 12})
    try {
      return await migrate({from, to, credentials: context({}).credentials, limiter, toNamespace, routines: IMAGES, retryBaseMs: 10, ...options})
    } finally {
      await limiter.stop()
    }
  }

  /** `aheadMs`: the registry's clock runs ahead of the API's, so tokens die there before ferry renews them. */
  const tokenVerdict =
    (aheadMs = 0) =>
    (password: string): TokenVerdict => {
      const status = fake.tokenStatus(password)
      return !status ? 'unknown' : Date.now() + aheadMs >= status.expiresAt ? 'expired' : 'valid'
    }

  for (const {name, namespace, chunkSize, aheadMs} of [
    {name: 'streamed uploads', namespace: 'streamed', chunkSize: undefined, aheadMs: 0},
    {name: 'chunked uploads', namespace: 'chunked', chunkSize: 128 * 1024, aheadMs: 0},
    // Tokens die 1 s early at the registry, past ferry's 0.5 s margin: refusals come, and each renews the login.
    {name: 'a registry clock 1 s ahead', namespace: 'ahead', chunkSize: undefined, aheadMs: 1000},
  ]) {
    test(`${name}: every job succeeds across several token lifetimes, with a bounded number of token fetches`, async (t) => {
      verdict = tokenVerdict(aheadMs)
      const fetchedBefore = fake.count('GetAuthorizationToken', {status: 200})
      const frontBefore = front.requests.length
      const begun = Date.now()
      const report = await run(namespace, {chunkSize})
      const elapsed = Date.now() - begun
      assert.deepEqual(report.results.map((result) => result.error?.message).filter(Boolean), [], describeReport(report))
      assert.equal(report.summary.copied, IMAGES, describeReport(report))
      for (let i = 0; i < IMAGES; i++) {
        assert.equal(await skopeoDigest(destination, `${namespace}/app:v${i}`), digests[i])
      }
      assert.ok(elapsed > 2 * TOKEN_TTL_S * 1000, `the run outlived several tokens (${elapsed} ms)`)
      const requests = front.requests.length - frontBefore
      const fetched = fake.count('GetAuthorizationToken', {status: 200}) - fetchedBefore
      const refused = front.requests.slice(frontBefore).filter((r) => r.verdict === 'expired').length
      // A login is fetched again a quarter of its life before it ends, once for all routines, and
      // at most once more per refusal; never once per request.
      t.diagnostic(`${namespace}: ${elapsed} ms, ${requests} registry requests, ${fetched} GetAuthorizationToken, ${refused} refused as expired`)
      const byLifetime = Math.ceil(elapsed / (TOKEN_TTL_S * 750)) + 1
      assert.ok(fetched <= byLifetime + refused, `GetAuthorizationToken ${fetched} times in ${elapsed} ms (${refused} refusals, ${requests} requests)`)
      assert.ok(fetched * 4 < requests, `GetAuthorizationToken ${fetched} times for ${requests} registry requests`)
      if (aheadMs) assert.ok(refused > 0, 'the registry refused expired logins')
      // A request refused as expired goes again with a new login, never with the one refused (POST
      // /blobs/uploads/ is left out: one path for every job's upload session).
      const again = new Map<string, number>()
      for (const r of front.requests.slice(frontBefore)) {
        if (r.verdict !== 'expired' || r.method === 'POST') continue
        const key = `${r.method} ${r.path} with login ~${r.token}`
        again.set(key, (again.get(key) ?? 0) + 1)
      }
      assert.deepEqual(
        [...again].filter(([, times]) => times > 1),
        [],
        'refused twice with the same login',
      )
    })
  }

  test('a login the registry refuses outright fails each job with one line, without fetching logins in a loop', async () => {
    verdict = () => 'unknown'
    try {
      const fetchedBefore = fake.count('GetAuthorizationToken', {status: 200})
      const frontBefore = front.requests.length
      const begun = Date.now()
      const report = await run('refused')
      const elapsed = Date.now() - begun
      const refusals = front.requests.slice(frontBefore).filter((r) => r.verdict === 'unknown').length
      assert.equal(report.summary.copied, 0, describeReport(report))
      assert.equal(report.summary.failed, IMAGES, describeReport(report))
      for (const result of report.results) {
        const message = result.error?.message ?? ''
        assert.match(message, /: registry 127\.0\.0\.1:\d+ refused the temporary login from the provider's API/, message)
        assert.ok(!message.includes('\n') && !message.includes(PASSWORD), message)
      }
      const fetched = fake.count('GetAuthorizationToken', {status: 200}) - fetchedBefore
      // The provider's first login, and one more per refusal only once the last renewal is no longer
      // young (a quarter of its life): bounded by time, never one per refused request.
      const youngWindows = Math.ceil(elapsed / (TOKEN_TTL_S * 250))
      assert.ok(fetched <= 2 + youngWindows && fetched < refusals, `GetAuthorizationToken ${fetched} times for ${refusals} refused requests in ${elapsed} ms`)
      assert.ok(refusals >= 2 * IMAGES, `${refusals} refused requests`)
    } finally {
      verdict = tokenVerdict()
    }
  })
})
