import assert from 'node:assert/strict'
import {test} from 'node:test'

import {parseSecrets} from '../../src/config/secrets.js'
import {ConfigError} from '../../src/errors.js'
import {swrEndpoint} from '../../src/providers/swr-api.js'
import {classifySwrFailure, readSwrFailure, swrError, type SwrFailure, type SwrFailureKind} from '../../src/providers/swr-errors.js'
import {apiRepositoryName, swrLogin, swrNameProblem, swrRegionOf} from '../../src/providers/swr-names.js'
import {swrSettings} from '../../src/providers/swr.js'

test('swrNameProblem: what SWR refuses is named with its rule; what it takes passes', () => {
  const cases: [string, RegExp | undefined][] = [
    ['team/app', undefined],
    ['a/b', undefined],
    ['team/deep/path/app', undefined],
    ['team.x_y-z/app', undefined],
    ['te__am/app', undefined],
    ['team/1app', undefined],
    ['team/a__b', undefined],
    [`${'o'.repeat(64)}/app`, undefined],
    [`team/${'r'.repeat(128)}`, undefined],
    ['app', /has no organization/],
    ['1team/app', /organization "1team": .*a lowercase letter first/],
    ['_team/app', /organization "_team"/],
    ['te___am/app', /organization "te___am": .*at most two '_' in a row/],
    ['te.-am/app', /organization "te.-am": .*no two separators side by side/],
    ['te--am/app', /organization "te--am"/],
    ['team-/app', /organization "team-": .*a letter or digit last/],
    [`${'o'.repeat(65)}/app`, /organization "o+": an SWR organization is 1-64 characters/],
    ['team/a___b', /repository "a___b": .*at most two '_' in a row/],
    ['team/a.-b', /repository "a.-b"/],
    ['team/a-/b', /repository "a-\/b": .*no two separators side by side/],
    ['team/a--b', /repository "a--b"/],
    [`team/${'r'.repeat(129)}`, /repository "r+": an SWR repository is 1-128 characters/],
  ]
  for (const [path, expected] of cases) {
    const problem = swrNameProblem(path)
    if (expected === undefined) assert.equal(problem, undefined, path)
    else assert.match(problem ?? '', expected, path)
  }
})

test('swrLogin: user <region>@<AK>, password hex HMAC-SHA256 of the AK keyed with the SK (as openssl dgst -hmac computes it)', () => {
  assert.deepEqual(swrLogin('cn-north-4', 'HPUAFERRYFAKEAK0001', 'fake-swr-sk-do-not-leak-0123456789'), {
    username: 'cn-north-4@HPUAFERRYFAKEAK0001',
    password: '5994eba8a3ccdf7b3d509cee4250fc9816850e31b29b6a88c0a1abf40dfca9f0',
  })
})

test('swrRegionOf reads swr.<region>.myhuaweicloud.com only; repository slashes become $ in API paths', () => {
  assert.equal(swrRegionOf('swr.cn-north-4.myhuaweicloud.com'), 'cn-north-4')
  assert.equal(swrRegionOf('SWR.ap-southeast-1.myhuaweicloud.com:443'), 'ap-southeast-1')
  assert.equal(swrRegionOf('swr.cn-north-4.myhuaweicloud.com.evil.example'), undefined)
  assert.equal(swrRegionOf('127.0.0.1:5000'), undefined)
  assert.equal(apiRepositoryName('deep/path/app'), 'deep$path$app')
})

test('classifySwrFailure reads the code and status, never the message', () => {
  const cases: [SwrFailure, SwrFailureKind][] = [
    [{code: 'APIGW.0301', status: 401}, 'auth'],
    [{code: 'APIGW.0101'}, 'auth'],
    [{code: 'HTTP_401', status: 401}, 'auth'],
    [{code: 'APIG.0308', status: 429}, 'throttled'],
    [{code: 'HTTP_429', status: 429}, 'throttled'],
    [{code: 'ECONNREFUSED', network: true}, 'transient'],
    [{code: 'HTTP_503', status: 503}, 'transient'],
    [{code: 'SWR.0403', status: 403}, 'permission'],
    [{code: 'HTTP_409', status: 409}, 'exists'],
    [{code: 'HTTP_404', status: 404}, 'missing'],
    [{code: 'SVCSTG.SWR.4001002', status: 400}, 'other'],
  ]
  for (const [failure, kind] of cases) assert.equal(classifySwrFailure(failure), kind, JSON.stringify(failure))
})

test('readSwrFailure: gateway code, legacy body (status only), no answer', () => {
  const gateway = {name: 'ClientRequestException', httpStatusCode: 429, errorCode: 'APIG.0308', errorMsg: 'throttled', requestId: 'r1'}
  assert.deepEqual(readSwrFailure(gateway), {code: 'APIG.0308', status: 429, requestId: 'r1'})
  assert.deepEqual(readSwrFailure({httpStatusCode: 409, errorMsg: 'Request failed with status code 409', requestId: 'r2'}), {
    code: 'HTTP_409',
    status: 409,
    requestId: 'r2',
  })
  assert.deepEqual(readSwrFailure({errorMsg: 'connect ECONNREFUSED 127.0.0.1:1'}), {code: 'ECONNREFUSED', network: true})
  assert.deepEqual(readSwrFailure({errorMsg: 'socket hang up'}), {code: 'ECONNRESET', network: true})
  assert.deepEqual(readSwrFailure({errorMsg: 'timeout of 30000ms exceeded'}), {code: 'ETIMEDOUT', network: true})
  assert.deepEqual(readSwrFailure('nonsense'), {code: 'UNKNOWN'})
})

test('swrError: one line with the code, the request id and what to do', () => {
  const auth = swrError('ListNamespaces', {code: 'APIGW.0301', status: 401, requestId: 'abc'}, {side: 'source'})
  assert.ok(auth instanceof ConfigError)
  assert.equal(auth.code, 'AUTH_FAILED')
  assert.match(auth.message, /^swr: ListNamespaces failed with APIGW.0301 \(request abc\): check ak\/sk under "swr"/)
  const permission = swrError('CreateNamespace', {code: 'SWR.0403', status: 403}, {side: 'destination'})
  assert.match(permission.message, /may not call swr:namespace:createNamespace/)
  const throttled = swrError('ListReposDetails', {code: 'APIG.0308', status: 429}, {side: 'source'})
  assert.equal(throttled.retryable, true)
  for (const error of [auth, permission, throttled]) assert.equal(error.message.split('\n').length, 1)
})

test('swrEndpoint: FERRY_ENDPOINT_SWR wins; only an origin', () => {
  assert.equal(swrEndpoint('cn-north-4', {}), 'https://swr-api.cn-north-4.myhuaweicloud.com')
  assert.equal(swrEndpoint('cn-north-4', {FERRY_ENDPOINT_SWR: 'http://127.0.0.1:8080'}), 'http://127.0.0.1:8080')
  assert.equal(swrEndpoint('cn-north-4', {FERRY_ENDPOINT_SWR: 'swr-api.internal'}), 'https://swr-api.internal')
  assert.throws(() => swrEndpoint('cn-north-4', {FERRY_ENDPOINT_SWR: 'http://host/prefix'}), /scheme and host only/)
  assert.throws(() => swrEndpoint('cn-north-4', {FERRY_ENDPOINT_SWR: 'ftp://host'}), /http:\/\/ or https:\/\//)
})

test('swr keys: the secret file in Huawei words, else the SDK environment variables; region from flag, entry or host', () => {
  const secrets = parseSecrets('swr:\n  ak: AK1\n  sk: SK1\n  region: cn-north-4\n  projectId: P1\n', 'secret.yaml')
  assert.deepEqual(secrets.swr, {secretId: 'AK1', secretKey: 'SK1', region: 'cn-north-4', projectId: 'P1'})
  assert.throws(() => parseSecrets('swr:\n  password: x\n', 'secret.yaml'), /secret.yaml:1: entry "swr": unknown field \(allowed: ak, sk,/)
  assert.throws(() => parseSecrets('acr:\n  ak: x\n', 'secret.yaml'), /unknown field \(allowed: secretId, secretKey\)/)

  const fromFile = swrSettings({settings: {}, secrets, env: {}}, 'source')
  assert.equal(fromFile.region, 'cn-north-4')
  assert.equal(fromFile.registry, 'swr.cn-north-4.myhuaweicloud.com')
  assert.deepEqual(fromFile.keys, {ak: 'AK1', sk: 'SK1', projectId: 'P1'})
  assert.equal(fromFile.tagLimit, 0, 'every tag unless --ccrTagNums says otherwise')

  const fromEnv = swrSettings(
    {settings: {registry: 'swr.ap-southeast-1.myhuaweicloud.com', tagNums: '5'}, secrets: {}, env: {HUAWEICLOUD_SDK_AK: 'AK2', HUAWEICLOUD_SDK_SK: 'SK2'}},
    'destination',
  )
  assert.equal(fromEnv.region, 'ap-southeast-1', 'the region an SWR host names')
  assert.deepEqual(fromEnv.keys, {ak: 'AK2', sk: 'SK2'})
  assert.equal(fromEnv.tagLimit, 5)

  const flagWins = swrSettings({settings: {region: 'cn-east-3', registry: '127.0.0.1:5000'}, secrets, env: {}}, 'source')
  assert.equal(flagWins.region, 'cn-east-3')
  assert.equal(flagWins.registry, '127.0.0.1:5000')

  assert.throws(() => swrSettings({settings: {region: 'cn-north-4'}, secrets: {}, env: {}}, 'source'), /swr needs API keys: .*HUAWEICLOUD_SDK_AK/)
  assert.throws(() => swrSettings({settings: {}, secrets: {swr: {secretId: 'a', secretKey: 'b'}}, env: {}}, 'destination'), /--toRegion/)
  assert.throws(() => swrSettings({settings: {namespace: 'a/b'}, secrets, env: {}}, 'source'), /one level/)
})
