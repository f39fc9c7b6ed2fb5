import assert from 'node:assert/strict'
import {test} from 'node:test'

import {formatPullLimit, parseRateLimit, PullQuotas, readPullQuota, spendsPull} from '../../src/registry/pull-quota.js'
import {RegistryStops} from '../../src/registry/registry-stops.js'
import {FerryError} from '../../src/errors.js'

test('parseRateLimit: N;w=SECONDS, a bare count, the first of several policies; anything else undefined', () => {
  const table: Array<[string | undefined, ReturnType<typeof parseRateLimit>]> = [
    ['25;w=60', {count: 25, windowSeconds: 60}],
    ['100;w=21600', {count: 100, windowSeconds: 21600}],
    // A hostile window would hold a standing mirror for ever: capped at a day.
    ['1;w=999999999999', {count: 1, windowSeconds: 86400}],
    [' 76 ; w = 21600 ', {count: 76, windowSeconds: 21600}],
    ['0;w=60', {count: 0, windowSeconds: 60}],
    ['25', {count: 25}],
    ['100;w=21600, 25;w=60', {count: 100, windowSeconds: 21600}],
    ['25;w=60;comment="x"', {count: 25, windowSeconds: 60}],
    [undefined, undefined],
    ['', undefined],
    ['many', undefined],
    ['-1;w=60', undefined],
    // A count with parameters it cannot read is still a count.
    ['25;w=soon', {count: 25}],
  ]
  for (const [header, expected] of table) assert.deepEqual(parseRateLimit(header), expected, String(header))
})

test('readPullQuota: remaining is required; the window from either header', () => {
  assert.deepEqual(readPullQuota({'ratelimit-limit': '25;w=60', 'ratelimit-remaining': '3;w=60'}), {remaining: 3, limit: 25, windowSeconds: 60})
  assert.deepEqual(readPullQuota({'ratelimit-limit': '25;w=60', 'ratelimit-remaining': '3'}), {remaining: 3, limit: 25, windowSeconds: 60})
  assert.deepEqual(readPullQuota({'ratelimit-remaining': '3'}), {remaining: 3})
  assert.equal(readPullQuota({'ratelimit-limit': '25;w=60'}), undefined)
  assert.equal(readPullQuota({}), undefined)
})

test('spendsPull: a manifest GET only', () => {
  const table: Array<[string, string, boolean]> = [
    ['GET', '/v2/library/nginx/manifests/latest', true],
    ['GET', '/v2/a/b/c/manifests/sha256:abc', true],
    ['GET', 'https://registry-1.docker.io/v2/library/nginx/manifests/1.0', true],
    ['HEAD', '/v2/library/nginx/manifests/latest', false],
    ['PUT', '/v2/library/nginx/manifests/latest', false],
    ['GET', '/v2/library/nginx/blobs/sha256:abc', false],
    ['GET', '/v2/library/nginx/tags/list', false],
    ['GET', '/v2/manifests/tags/list', false],
  ]
  for (const [method, path, spends] of table) assert.equal(spendsPull({method, path}), spends, `${method} ${path}`)
})

test('formatPullLimit: one line with the registry, the limit, the reserve, when to run again and what to do', () => {
  const quota = {registry: 'docker.io', limit: 100, remaining: 0, windowSeconds: 21600, resetsBy: '2026-01-02T09:00:00.000Z'}
  assert.equal(
    formatPullLimit(quota, 0),
    'registry docker.io: pull limit reached (0 of 100 pulls per 6 h left); no more manifests are pulled from it in this run. ' +
      'Log in to docker.io (give credentials for it) for a higher limit, or run again after 2026-01-02T09:00:00Z',
  )
  assert.match(formatPullLimit({...quota, remaining: 5, windowSeconds: 60}, 5), /\(5 of 100 pulls per 60 s left, 5 kept in reserve \(--pull-reserve\)\)/)
  assert.match(formatPullLimit({registry: 'r', remaining: 0}, 0), /\(0 pulls left\).*run again after the window has passed$/)
  assert.ok(!formatPullLimit(quota, 0).includes('\n'))
})

const headers = (remaining: number) => ({'ratelimit-limit': '25;w=60', 'ratelimit-remaining': `${remaining};w=60`})

test('PullQuotas: unknown goes; GETs in flight count against what is left; spent at the reserve', async () => {
  const quotas = new PullQuotas({whenSpent: 'stop', now: () => Date.parse('2026-01-01T00:00:00Z')})
  const first = await quotas.admit('hub', 0)
  assert.equal(first.kind, 'go')
  quotas.observe('hub', headers(2), 0)
  // Two left and one in flight: one more may go, the next waits for an answer.
  const second = await quotas.admit('hub', 0)
  assert.equal(second.kind, 'go')
  let third: Awaited<ReturnType<PullQuotas['admit']>> | undefined
  const waiting = quotas.admit('hub', 0).then((admission) => (third = admission))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(third, undefined, 'admitted while every pull left was in flight')
  // As the layer does: the answer's count first, then the release that wakes the waiting.
  quotas.observe('hub', headers(1), 1)
  if (first.kind === 'go') first.release(200, headers(1))
  quotas.observe('hub', headers(0), 1)
  if (second.kind === 'go') second.release(200, headers(0))
  assert.equal((await waiting).kind, 'spent')
  assert.deepEqual(quotas.snapshot(), [
    {registry: 'hub', limit: 25, remaining: 0, windowSeconds: 60, stoppedAt: '2026-01-01T00:00:00.000Z', resetsBy: '2026-01-01T00:01:00.000Z'},
  ])
})

test('PullQuotas: a reserve stops early; an overtaken answer does not raise the count; a 429 spends only an empty quota', async () => {
  let now = 1000
  const quotas = new PullQuotas({whenSpent: 'stop', now: () => now})
  quotas.observe('hub', headers(6), 0)
  now = 2000
  // Sent before the last answer arrived, answered after: stale.
  quotas.observe('hub', headers(9), 500)
  assert.equal(quotas.snapshot()[0]!.remaining, 6)
  // Sent after it: the count is what the registry says now (a rolling window frees pulls).
  quotas.observe('hub', headers(8), 2500)
  assert.equal(quotas.snapshot()[0]!.remaining, 8)
  assert.equal(quotas.refused('hub'), undefined, 'a 429 with pulls left is the existing backoff')
  const go = await quotas.admit('hub', 7)
  assert.equal(go.kind, 'go')
  // A 200 without a count: the pull was spent all the same (8 → 7, the reserve).
  if (go.kind === 'go') go.release(200, {})
  assert.equal((await quotas.admit('hub', 7)).kind, 'spent')
  assert.equal(quotas.snapshot()[0]!.remaining, 7)
  quotas.observe('other', headers(0), 0)
  assert.equal(quotas.refused('other')?.remaining, 0)
  assert.equal((await quotas.admit('other', 0)).kind, 'spent')
})

test('PullQuotas in a standing mirror: a spent quota waits for the window, then goes again', async () => {
  const quotas = new PullQuotas({whenSpent: 'wait'})
  quotas.observe('hub', {'ratelimit-remaining': '0;w=1'}, 0)
  let admitted = false
  const waiting = quotas.admit('hub', 0).then((admission) => {
    admitted = true
    return admission
  })
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal(admitted, false, 'went while the window was spent')
  assert.ok(quotas.snapshot()[0]!.stoppedAt)
  const admission = await waiting
  assert.equal(admission.kind, 'go')
  if (admission.kind === 'go') admission.release(200, {})
  const aborted = new AbortController()
  quotas.observe('hub', {'ratelimit-remaining': '0;w=600'}, Date.now())
  const stopped = quotas.admit('hub', 0, aborted.signal)
  aborted.abort()
  await assert.rejects(stopped)
})

test('RegistryStops: the first stop wins and is told once; pulls stop manifest GETs only, requests stop all', () => {
  const told: string[] = []
  const stops = new RegistryStops((stop) => told.push(`${stop.registry}: ${stop.error.message}`))
  const limit = new FerryError('PULL_LIMIT', 'pull limit reached')
  assert.equal(stops.stop('hub', limit, 'pulls'), limit)
  assert.equal(stops.stop('hub', new FerryError('NETWORK', 'down'), 'requests'), limit)
  stops.stop('far', new FerryError('NETWORK', 'refused'), 'requests')
  assert.deepEqual(told, ['hub: pull limit reached', 'far: refused'])
  assert.equal(stops.check('hub', {method: 'GET', path: '/v2/a/manifests/1'}), limit)
  assert.equal(stops.check('hub', {method: 'HEAD', path: '/v2/a/manifests/1'}), undefined)
  assert.equal(stops.check('hub', {method: 'GET', path: '/v2/a/blobs/sha256:1'}), undefined)
  assert.equal(stops.check('far', {method: 'HEAD', path: '/v2/a/manifests/1'})?.code, 'NETWORK')
  assert.equal(stops.check('near', {method: 'GET', path: '/v2/a/manifests/1'}), undefined)
})
