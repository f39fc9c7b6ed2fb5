import assert from 'node:assert/strict'
import {test} from 'node:test'

import {FerryError} from '../../src/errors.js'
import {acrEndpoint} from '../../src/providers/acr-api.js'
import {morePages, paged, splitRepository, toNumber, type Page} from '../../src/providers/acr-edition.js'
import {pickInstanceDomain} from '../../src/providers/acr-enterprise.js'
import {acrError, classifyAcrFailure, isAlreadyExists, readAcrFailure, type AcrFailure, type AcrFailureKind} from '../../src/providers/acr-errors.js'
import {timedLogin} from '../../src/providers/acr-token.js'
import {acrSettings} from '../../src/providers/acr.js'

test('classifyAcrFailure reads the code, never the message', () => {
  const cases: [AcrFailure, AcrFailureKind][] = [
    [{code: 'SignatureDoesNotMatch'}, 'auth'],
    [{code: 'InvalidAccessKeyId.NotFound'}, 'auth'],
    [{code: 'InvalidAccessKeyId.Inactive'}, 'auth'],
    [{code: 'Throttling.User'}, 'throttled'],
    [{code: 'Throttling'}, 'throttled'],
    [{code: 'Throttling.Api'}, 'throttled'],
    [{code: 'ServiceUnavailable'}, 'transient'],
    [{code: 'ECONNRESET', network: true}, 'transient'],
    [{code: 'BAD_ANSWER'}, 'transient'],
    [{code: '', status: 502}, 'transient'],
    [{code: 'Forbidden.RAM'}, 'permission'],
    [{code: 'NoPermission'}, 'permission'],
    [{code: 'NAMESPACE_ALREADY_EXIST'}, 'exists'],
    [{code: 'REPO_ALREADY_EXIST'}, 'exists'],
    [{code: 'INSTANCE_NOT_EXIST'}, 'instance'],
    [{code: 'InvalidRegionId'}, 'region'],
    [{code: 'REPO_NOT_EXIST'}, 'other'],
    [{code: 'ThrottlingNotReally'}, 'other'],
  ]
  for (const [failure, kind] of cases) assert.equal(classifyAcrFailure(failure), kind, JSON.stringify(failure))
})

test('readAcrFailure takes the code and request id from each shape pop-core throws', () => {
  const signedUrl = 'http://127.0.0.1:1/?AccessKeyId=LTAIxyz&Signature=abc%3D'
  const rpc = Object.assign(new Error(`Specified signature is not matched, URL: ${signedUrl}`), {
    name: 'SignatureDoesNotMatchError',
    code: 'SignatureDoesNotMatch',
    data: {Code: 'SignatureDoesNotMatch', RequestId: 'R-1', Message: 'server string to sign is:GET&%2F&AccessKeyId%3DLTAIxyz'},
    url: signedUrl,
  })
  const roaUpper = Object.assign(new Error('code: 400, x, requestid: R-2'), {
    code: 'Throttling.User',
    statusCode: 400,
    result: {Code: 'Throttling.User', RequestId: 'R-2'},
  })
  const roaLower = Object.assign(new Error('code: 404, , requestid: '), {
    code: '',
    statusCode: 404,
    result: {code: 'REPO_NOT_EXIST', message: 'repo not exist', requestId: 'R-3'},
  })
  const network = Object.assign(new Error(`connect ECONNREFUSED. GET ${signedUrl} failed.`), {code: 'ECONNREFUSED'})
  const timeout = Object.assign(new Error(`ReadTimeout(10000). GET ${signedUrl} failed.`), {name: 'RequestTimeoutError'})
  const cases: [unknown, AcrFailure][] = [
    [rpc, {code: 'SignatureDoesNotMatch', requestId: 'R-1', status: undefined}],
    [roaUpper, {code: 'Throttling.User', requestId: 'R-2', status: 400}],
    [roaLower, {code: 'REPO_NOT_EXIST', requestId: 'R-3', status: 404}],
    [network, {code: 'ECONNREFUSED', network: true}],
    [timeout, {code: 'RequestTimeoutError', network: true}],
    [new SyntaxError('Unexpected token <'), {code: 'BAD_ANSWER'}],
    [Object.assign(new Error('x'), {name: 'FormatError'}), {code: 'BAD_ANSWER'}],
    ['a string', {code: 'UNKNOWN'}],
  ]
  for (const [error, expected] of cases) assert.deepEqual(readAcrFailure(error), expected, String(error))
})

test('acrError: one line naming provider, action, code and the fix; nothing the SDK said', () => {
  const cases: [string, AcrFailure, 'source' | 'destination', RegExp, string][] = [
    [
      'ListNamespace',
      {code: 'SignatureDoesNotMatch', requestId: 'R-1'},
      'source',
      /^acr: ListNamespace failed with SignatureDoesNotMatch: check secretId\/secretKey under "acr" in the secret file \(--secretFile\) \(request R-1\)$/,
      'AUTH_FAILED',
    ],
    ['ListRepoTag', {code: 'Forbidden.RAM'}, 'source', /may not call cr:ListRepositoryTag; grant it/, 'AUTH_FAILED'],
    ['GetRepoTags', {code: 'Forbidden.RAM'}, 'source', /cr:ListRepositoryTag/, 'AUTH_FAILED'],
    ['CreateRepo', {code: 'NoPermission'}, 'destination', /cr:CreateRepository/, 'AUTH_FAILED'],
    [
      'GetInstanceEndpoint',
      {code: 'INSTANCE_NOT_EXIST'},
      'destination',
      /check the instance id \(--toInstance\) and that it lives in the region \(--toRegion\)/,
      'INVALID_CONFIG',
    ],
    ['GetInstanceEndpoint', {code: 'INSTANCE_NOT_EXIST'}, 'source', /--fromInstance/, 'INVALID_CONFIG'],
    ['ListRepository', {code: 'Throttling.User'}, 'source', /still throttled after retries; lower --qps/, 'Throttling.User'],
    ['ListRepository', {code: 'ECONNRESET', network: true}, 'source', /no answer from the API endpoint/, 'ECONNRESET'],
    [
      'CreateRepository',
      {code: 'REPO_NAME_INVALID', requestId: 'R-9'},
      'destination',
      /^acr: CreateRepository failed with REPO_NAME_INVALID \(request R-9\)$/,
      'REPO_NAME_INVALID',
    ],
  ]
  for (const [action, failure, side, message, code] of cases) {
    const error = acrError(action, failure, {side})
    assert.ok(FerryError.is(error))
    assert.match(error.message, message)
    assert.equal(error.code, code)
    assert.ok(!error.message.includes('\n'))
  }
  assert.equal(acrError('X', {code: 'Throttling.User'}, {side: 'source'}).retryable, true)
  assert.equal(acrError('X', {code: 'SignatureDoesNotMatch'}, {side: 'source'}).retryable, false)
})

test('isAlreadyExists recognises the create conflicts of both editions', () => {
  assert.equal(isAlreadyExists(acrError('CreateNamespace', {code: 'NAMESPACE_ALREADY_EXIST'}, {side: 'destination'})), true)
  assert.equal(isAlreadyExists(acrError('CreateRepo', {code: 'REPO_ALREADY_EXIST'}, {side: 'destination'})), true)
  assert.equal(isAlreadyExists(acrError('CreateRepo', {code: 'REPO_NOT_EXIST'}, {side: 'destination'})), false)
  assert.equal(isAlreadyExists(new Error('REPO_ALREADY_EXIST')), false)
})

test('acrEndpoint: the region default, or FERRY_ENDPOINT_ACR with its scheme', () => {
  const cases: [string | undefined, string | RegExp][] = [
    [undefined, 'https://cr.cn-hangzhou.aliyuncs.com'],
    ['', 'https://cr.cn-hangzhou.aliyuncs.com'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080'],
    ['HTTPS://cr.example.com', 'https://cr.example.com'],
    ['cr.example.com:8443', 'https://cr.example.com:8443'],
    ['ftp://cr.example.com', /must be http:\/\/ or https:\/\//],
    ['http://cr.example.com/api', /scheme and host only/],
    ['http://', /not a URL/],
  ]
  for (const [override, expected] of cases) {
    const env = override === undefined ? {} : {FERRY_ENDPOINT_ACR: override}
    if (typeof expected === 'string') assert.equal(acrEndpoint('cn-hangzhou', env), expected, String(override))
    else assert.throws(() => acrEndpoint('cn-hangzhou', env), expected, String(override))
  }
})

test('acrSettings: edition, region, keys, with the flag to fix in each error', () => {
  const keys = {acr: {secretId: 'id', secretKey: 'key'}}
  const ok = acrSettings(
    {settings: {region: 'cn-shanghai', instance: 'cri-abc123', registry: 'http://Reg.Example.com:5000/'}, secrets: keys, env: {}},
    'source',
  )
  assert.deepEqual(ok, {
    region: 'cn-shanghai',
    instance: 'cri-abc123',
    namespace: undefined,
    registry: 'reg.example.com:5000',
    endpoint: 'https://cr.cn-shanghai.aliyuncs.com',
    accessKeyId: 'id',
    accessKeySecret: 'key',
  })
  assert.equal(
    acrSettings({settings: {region: 'cn-shanghai', instance: ' '}, secrets: keys, env: {}}, 'destination').instance,
    undefined,
    'no instance: personal edition',
  )
  assert.equal(acrSettings({settings: {region: 'cn-shanghai', namespace: '/team/'}, secrets: keys, env: {}}, 'source').namespace, 'team')
  const errors: [Record<string, string | undefined>, Record<string, {secretId?: string; secretKey?: string} | undefined>, 'source' | 'destination', RegExp][] =
    [
      [{}, keys, 'source', /source region \(--fromRegion\)/],
      [{region: ' '}, keys, 'destination', /destination region \(--toRegion\)/],
      [{region: 'cn hangzhou'}, keys, 'source', /is not a region id/],
      [{region: 'cn-hangzhou', instance: 'prod'}, keys, 'destination', /--toInstance must be an enterprise instance id/],
      [{region: 'cn-hangzhou'}, {}, 'source', /acr needs API keys.*--secretFile/],
      [{region: 'cn-hangzhou'}, {acr: {secretId: 'id'}}, 'source', /acr needs API keys/],
      [{region: 'cn-hangzhou', namespace: 'a/b'}, keys, 'source', /one level/],
    ]
  for (const [settings, secrets, side, expected] of errors) {
    assert.throws(() => acrSettings({settings, secrets, env: {}}, side), expected, JSON.stringify(settings))
  }
})

test('morePages: the total when given (a string in RPC answers), else a short page ends', () => {
  const page = (items: number, total: number, pageSize?: number): Page<number> => ({items: Array.from({length: items}, (_, i) => i), total, pageSize})
  const cases: [number, Page<number>, number, boolean][] = [
    [2, page(2, 5), 100, true],
    [5, page(1, 5), 100, false],
    [4, page(2, toNumber('5'), 2), 100, true],
    [2, page(2, Number.NaN, 2), 100, true],
    [3, page(1, Number.NaN, 2), 100, false],
    [100, page(100, Number.NaN), 100, true],
    [0, page(0, 10), 100, false],
  ]
  for (const [seen, p, asked, expected] of cases) assert.equal(morePages(seen, p, asked), expected, JSON.stringify({seen, p, asked}))
})

test('paged streams page after page and stops on the total or an empty page', async () => {
  const all = [1, 2, 3, 4, 5]
  const asked: number[] = []
  const pages: number[][] = []
  for await (const items of paged(async (n) => {
    asked.push(n)
    return {items: all.slice((n - 1) * 2, n * 2), total: toNumber(String(all.length)), pageSize: 2}
  }, 100))
    pages.push(items)
  assert.deepEqual(pages, [[1, 2], [3, 4], [5]])
  assert.deepEqual(asked, [1, 2, 3])

  // A total that lies (larger than the list) ends at the first empty page instead of looping.
  let calls = 0
  for await (const _ of paged(async (n) => {
    calls++
    return {items: n === 1 ? [1] : [], total: 50}
  }, 100))
    void _
  assert.equal(calls, 2)
})

test('toNumber copes with numbers, strings and json-bigint objects', () => {
  assert.equal(toNumber(5), 5)
  assert.equal(toNumber('12'), 12)
  assert.equal(toNumber({toString: () => '1893456000000'}), 1893456000000)
  assert.ok(Number.isNaN(toNumber(undefined)))
  assert.ok(Number.isNaN(toNumber('')))
})

test('splitRepository: namespace/name, nested names only in the enterprise edition', () => {
  const cases: [string, boolean, {namespace: string; name: string} | RegExp][] = [
    ['team/app', false, {namespace: 'team', name: 'app'}],
    ['team/app', true, {namespace: 'team', name: 'app'}],
    ['team/sub/app', true, {namespace: 'team', name: 'sub/app'}],
    ['team/sub/app', false, /personal edition has only namespace\/name/],
    ['app', true, /names none: put one in front with --toNamespace/],
    ['/app', true, /--toNamespace/],
    ['team/', true, /--toNamespace/],
  ]
  for (const [repository, nested, expected] of cases) {
    const result = splitRepository(repository, nested)
    if (expected instanceof RegExp) assert.match('problem' in result ? result.problem : '', expected, repository)
    else assert.deepEqual(result, expected, repository)
  }
})

test('pickInstanceDomain prefers the SYSTEM domain of an enabled internet endpoint', () => {
  const cases: [Record<string, unknown>, {host: string} | {problem: string}][] = [
    [
      {
        Enable: true,
        Domains: [
          {Domain: 'my.example.com', Type: 'USER'},
          {Domain: 'inst-registry.cn-hangzhou.cr.aliyuncs.com', Type: 'SYSTEM'},
        ],
      },
      {host: 'inst-registry.cn-hangzhou.cr.aliyuncs.com'},
    ],
    [{Enable: true, Domains: [{Domain: 'https://my.example.com/', Type: 'USER'}]}, {host: 'my.example.com'}],
    [{Domains: [{Domain: '127.0.0.1:5000', Type: 'system'}]}, {host: '127.0.0.1:5000'}],
    [{Enable: false, Domains: [{Domain: 'x', Type: 'SYSTEM'}]}, {problem: 'its internet endpoint is disabled'}],
    [{Enable: true, Domains: []}, {problem: 'its internet endpoint lists no domain'}],
    [{Enable: true}, {problem: 'its internet endpoint lists no domain'}],
  ]
  for (const [answer, expected] of cases) assert.deepEqual(pickInstanceDomain(answer), expected, JSON.stringify(answer))
})

test('timedLogin: stamps the fetch time; a login without expiry lasts ten minutes', () => {
  const issuedAt = 1_000_000
  const cases: [number, number][] = [
    [issuedAt + 3_600_000, issuedAt + 3_600_000],
    [issuedAt - 1, issuedAt - 1],
    [Number.NaN, issuedAt + 10 * 60_000],
    [Number.POSITIVE_INFINITY, issuedAt + 10 * 60_000],
  ]
  for (const [expiresAt, expected] of cases) {
    assert.deepEqual(
      timedLogin({username: 'u', password: 'p', expiresAt}, issuedAt),
      {username: 'u', password: 'p', issuedAt, expiresAt: expected},
      String(expiresAt),
    )
  }
})
