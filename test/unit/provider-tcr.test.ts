import assert from 'node:assert/strict'
import {test} from 'node:test'

import {FerryError} from '../../src/errors.js'
import {apiEndpoint, apiKeys} from '../../src/providers/tcr-api.js'
import {namespaceOf} from '../../src/providers/tcr-destination.js'
import {apiError, isAlreadyExists, isTransient, readSdkFailure, sanitize} from '../../src/providers/tcr-errors.js'
import {offsetPages, pageNumberPages, type Page} from '../../src/providers/tcr-pages.js'
import {newestTags, parseTagLimit, tagTime, type TagTimes} from '../../src/providers/tcr-tags.js'
import {loginExpiry} from '../../src/providers/tcr-token.js'

/** What tencentcloud-sdk-nodejs throws: an Error with requestId/traceId, `code` from the body, `httpCode` on non-200. */
function sdkError(message: string, fields: {code?: string; requestId?: string; httpCode?: number} = {}): Error {
  return Object.assign(
    new Error(message),
    {requestId: fields.requestId ?? '', traceId: ''},
    fields.code ? {code: fields.code} : {},
    fields.httpCode ? {httpCode: fields.httpCode} : {},
  )
}

test('parseTagLimit: default 100, 0 = all, whole numbers only', () => {
  const cases: [string | undefined, number | 'error'][] = [
    [undefined, 100],
    ['', 100],
    ['  ', 100],
    ['0', 0],
    ['5', 5],
    [' 12 ', 12],
    ['-1', 'error'],
    ['1.5', 'error'],
    ['ten', 'error'],
  ]
  for (const [value, expected] of cases) {
    if (expected === 'error') assert.throws(() => parseTagLimit(value), /ccr: the tag limit must be a whole number/, String(value))
    else assert.equal(parseTagLimit(value), expected, String(value))
  }
})

test('tagTime reads CCR times, ISO times, and falls back from PushTime to UpdateTime to CreationTime', () => {
  const cases: [TagTimes, number][] = [
    [{PushTime: '2020-06-17 17:18:51'}, Date.parse('2020-06-17T17:18:51Z')],
    [{PushTime: '2020-06-17T17:18:51+08:00'}, Date.parse('2020-06-17T09:18:51Z')],
    [{PushTime: '', UpdateTime: '2021-01-01 00:00:00'}, Date.parse('2021-01-01T00:00:00Z')],
    [{CreationTime: '2019-01-01 00:00:00'}, Date.parse('2019-01-01T00:00:00Z')],
    [{PushTime: 'yesterday'}, Number.NEGATIVE_INFINITY],
    [{}, Number.NEGATIVE_INFINITY],
  ]
  for (const [tag, expected] of cases) assert.equal(tagTime(tag), expected, JSON.stringify(tag))
})

test('newestTags keeps the newest N by push time and counts the rest', () => {
  const tags: TagTimes[] = [
    {TagName: 'old', PushTime: '2019-01-01 00:00:00'},
    {TagName: 'new', PushTime: '2021-06-01 12:00:00'},
    {TagName: 'mid', PushTime: '2020-03-01 08:00:00'},
    {TagName: 'b-tie', PushTime: '2020-03-01 08:00:00'},
    {TagName: 'undated'},
    {TagName: ''},
    {PushTime: '2030-01-01 00:00:00'},
  ]
  const cases: [number, string[], number][] = [
    [1, ['new'], 4],
    [2, ['new', 'b-tie'], 3],
    [3, ['new', 'b-tie', 'mid'], 2],
    [0, ['new', 'b-tie', 'mid', 'old', 'undated'], 0],
    [100, ['new', 'b-tie', 'mid', 'old', 'undated'], 0],
  ]
  for (const [limit, kept, omitted] of cases) assert.deepEqual(newestTags(tags, limit), {tags: kept, omitted}, `limit ${limit}`)
  // A tag listed twice (pages shifting under a push) counts once.
  assert.deepEqual(
    newestTags(
      [
        {TagName: 'a', PushTime: '2020-01-01 00:00:00'},
        {TagName: 'a', PushTime: '2020-01-01 00:00:00'},
      ],
      1,
    ),
    {tags: ['a'], omitted: 0},
  )
})

test('apiEndpoint: Tencent by default, FERRY_ENDPOINT_TCR with its scheme honoured', () => {
  const cases: [string | undefined, ReturnType<typeof apiEndpoint> | 'error'][] = [
    [undefined, {endpoint: 'tcr.tencentcloudapi.com', protocol: 'https://', loopback: false}],
    ['', {endpoint: 'tcr.tencentcloudapi.com', protocol: 'https://', loopback: false}],
    ['http://127.0.0.1:8080', {endpoint: '127.0.0.1:8080', protocol: 'http://', loopback: true}],
    ['http://127.0.0.1:8080/', {endpoint: '127.0.0.1:8080', protocol: 'http://', loopback: true}],
    ['https://tcr.internal.example.com', {endpoint: 'tcr.internal.example.com', protocol: 'https://', loopback: false}],
    ['HTTP://LOCALHOST:9', {endpoint: 'localhost:9', protocol: 'http://', loopback: true}],
    ['http://[::1]:9', {endpoint: '[::1]:9', protocol: 'http://', loopback: true}],
    ['127.0.0.1:8080', 'error'],
    ['localhost:8080', 'error'],
    ['ftp://127.0.0.1', 'error'],
    ['http://127.0.0.1:8080/api', 'error'],
    ['http://user:pw@127.0.0.1', 'error'],
  ]
  for (const [value, expected] of cases) {
    const env = value === undefined ? {} : {FERRY_ENDPOINT_TCR: value}
    if (expected === 'error') assert.throws(() => apiEndpoint(env), /FERRY_ENDPOINT_TCR must be a URL like http:\/\/127\.0\.0\.1:8080/, value)
    else assert.deepEqual(apiEndpoint(env), expected, value)
  }
})

test('apiKeys: missing keys name --secretFile and the side', () => {
  assert.deepEqual(apiKeys({secrets: {tcr: {secretId: 'id', secretKey: 'key'}}}, 'tcr'), {secretId: 'id', secretKey: 'key'})
  for (const secrets of [{}, {ccr: {secretId: 'id'}}, {ccr: {secretKey: 'key'}}, {tcr: {secretId: 'id', secretKey: 'key'}}]) {
    assert.throws(
      () => apiKeys({secrets}, 'ccr'),
      /^ConfigError: ccr: no Tencent Cloud API keys: pass --secretFile with a "ccr:" entry/,
      JSON.stringify(secrets),
    )
  }
})

test('namespaceOf: the first path component; TCR needs one', () => {
  assert.equal(namespaceOf('team/app'), 'team')
  assert.equal(namespaceOf('team/sub/app'), 'team')
  assert.throws(() => namespaceOf('solo'), /tcr: repository solo has no namespace.*--toNamespace/)
  assert.throws(() => namespaceOf('/x'), /has no namespace/)
})

test('apiError: one line with side, action, code and what to do; never a key', () => {
  const secrets = ['AKIDsecretid123', 'the-secret-key-xyz']
  const context = {endpoint: 'https://tcr.tencentcloudapi.com', secrets, attempts: 1}
  const cases: [unknown, {code: string; retryable: boolean; message: RegExp}][] = [
    [
      sdkError('The provided credentials could not be validated.', {code: 'AuthFailure.SignatureFailure', requestId: 'r-1'}),
      {
        code: 'AuthFailure.SignatureFailure',
        retryable: false,
        message:
          /^tcr: DescribeInstances failed with AuthFailure\.SignatureFailure: check secretId\/secretKey in the secret file \(--secretFile\) \(request r-1\)$/,
      },
    ],
    [
      sdkError('The SecretId AKIDsecretid123 is not found', {code: 'AuthFailure.SecretIdNotFound'}),
      {code: 'AuthFailure.SecretIdNotFound', retryable: false, message: /check secretId\/secretKey/},
    ],
    [sdkError('clock', {code: 'AuthFailure.SignatureExpire'}), {code: 'AuthFailure.SignatureExpire', retryable: false, message: /local clock/}],
    [
      sdkError('no', {code: 'UnauthorizedOperation'}),
      {code: 'UnauthorizedOperation', retryable: false, message: /the key may not call DescribeInstances; grant it/},
    ],
    [sdkError('no', {code: 'AuthFailure.UnauthorizedOperation'}), {code: 'AuthFailure.UnauthorizedOperation', retryable: false, message: /may not call/}],
    [
      sdkError('too fast', {code: 'RequestLimitExceeded'}),
      {code: 'RequestLimitExceeded', retryable: true, message: /still rate-limited after 1 attempts; lower --qps/},
    ],
    [sdkError('region', {code: 'UnsupportedRegion'}), {code: 'UnsupportedRegion', retryable: false, message: /check the region \(--toRegion\)/}],
    [sdkError('oops', {code: 'InternalError'}), {code: 'InternalError', retryable: true, message: /failed with InternalError: oops$/}],
    [
      sdkError('name the-secret-key-xyz\nis bad', {code: 'InvalidParameter'}),
      {code: 'InvalidParameter', retryable: false, message: /failed with InvalidParameter: name \[redacted\] is bad$/},
    ],
    [sdkError('Bad Gateway', {httpCode: 502}), {code: 'HTTP_502', retryable: true, message: /failed with HTTP 502 from https:\/\/tcr\.tencentcloudapi\.com$/}],
    [sdkError('Not Found', {httpCode: 404}), {code: 'HTTP_404', retryable: false, message: /HTTP 404/}],
    [
      sdkError('request to https://tcr.tencentcloudapi.com/ failed, reason: getaddrinfo ENOTFOUND'),
      {code: 'NETWORK', retryable: true, message: /failed: cannot reach the Tencent Cloud API at https:\/\/tcr\.tencentcloudapi\.com: request to/},
    ],
    [new TypeError("Cannot read properties of undefined (reading 'Error')"), {code: 'BAD_ANSWER', retryable: false, message: /unexpected answer from/}],
  ]
  for (const [error, expected] of cases) {
    const failure = apiError('tcr', 'DescribeInstances', error, context)
    assert.ok(FerryError.is(failure))
    assert.equal(failure.code, expected.code)
    assert.equal(failure.retryable, expected.retryable, failure.message)
    assert.match(failure.message, expected.message)
    assert.ok(!failure.message.includes('\n'), failure.message)
    for (const secret of secrets) assert.ok(!failure.message.includes(secret), failure.message)
    assert.ok(!JSON.stringify(failure).includes('the-secret-key-xyz'), 'nothing enumerable holds a key')
  }
  assert.match(apiError('ccr', 'DescribeImagePersonal', sdkError('r', {code: 'InvalidParameterValue.InvalidRegion'}), context).message, /--fromRegion/)
  assert.match(apiError('ccr', 'X', sdkError('t', {code: 'RequestLimitExceeded'}), {...context, attempts: 6}).message, /after 6 attempts/)
})

test('isTransient and isAlreadyExists read codes, not message text (except "already exists")', () => {
  assert.equal(isTransient(readSdkFailure(sdkError('x', {code: 'RequestLimitExceeded.UinLimitExceeded'}))), true)
  assert.equal(isTransient(readSdkFailure(sdkError('x', {code: 'ResourceNotFound'}))), false)
  assert.equal(isTransient(readSdkFailure(new Error('not from the SDK'))), false)
  const exists = (code: string, message = 'x') =>
    isAlreadyExists(apiError('tcr', 'CreateNamespace', sdkError(message, {code}), {endpoint: 'e', secrets: [], attempts: 1}))
  assert.equal(exists('ResourceInUse.ErrorNamespaceExist'), true)
  assert.equal(exists('FailedOperation.AlreadyExists'), true)
  assert.equal(exists('InvalidParameter.ErrorNameExists'), true)
  assert.equal(exists('FailedOperation', 'namespace team already exists'), true)
  assert.equal(exists('FailedOperation', 'quota exceeded'), false)
  assert.equal(isAlreadyExists(new Error('already exists')), false)
})

test('sanitize: one line, keys blanked, bounded', () => {
  assert.equal(sanitize('a\n b\t c', []), 'a b c')
  assert.equal(sanitize('key=abcd1234', ['abcd1234', 'ab']), 'key=[redacted]')
  assert.equal(sanitize('x'.repeat(400), []).length, 300)
})

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = []
  for await (const page of pages) out.push(page)
  return out
}

test('offsetPages advances by what came back, stops at the total or an empty page', async () => {
  const items = Array.from({length: 10}, (_, i) => i)
  const calls: number[] = []
  // The server answers 4 per page whatever Limit says.
  const fetch = async (offset: number): Promise<Page<number>> => {
    calls.push(offset)
    return {items: items.slice(offset, offset + 4), total: items.length}
  }
  assert.deepEqual(await collect(offsetPages(fetch, 100)), [
    [0, 1, 2, 3],
    [4, 5, 6, 7],
    [8, 9],
  ])
  assert.deepEqual(calls, [0, 4, 8])
  // A total larger than what the server really has ends at the first empty page.
  assert.deepEqual(await collect(offsetPages(async (offset) => ({items: offset === 0 ? [1] : [], total: 50}), 100)), [[1]])
  assert.deepEqual(await collect(offsetPages(async () => ({items: [], total: 0}), 100)), [])
})

test('pageNumberPages works whether the first page is 0 or 1', async () => {
  const names = ['a', 'b', 'c', 'd', 'e']
  const zeroBased = async (page: number): Promise<Page<string>> => ({items: names.slice(page * 2, page * 2 + 2), total: names.length})
  // Harbor-style: page 0 is read as page 1, so the second call repeats the first.
  const oneBased = async (page: number): Promise<Page<string>> => {
    const index = Math.max(1, page) - 1
    return {items: names.slice(index * 2, index * 2 + 2), total: names.length}
  }
  assert.deepEqual((await collect(pageNumberPages(zeroBased, 2, (x) => x))).flat(), names)
  assert.deepEqual((await collect(pageNumberPages(oneBased, 2, (x) => x))).flat(), names)
  let calls = 0
  const stuck = async (): Promise<Page<string>> => {
    calls++
    return {items: ['a'], total: 99}
  }
  assert.deepEqual((await collect(pageNumberPages(stuck, 2, (x) => x))).flat(), ['a'])
  assert.equal(calls, 3, 'two pages with nothing new end the listing')
})

test('loginExpiry reads ExpTime in milliseconds or seconds', () => {
  const issuedAt = Date.parse('2026-01-01T00:00:00Z')
  const cases: [number | undefined, number][] = [
    [issuedAt + 3_600_000, issuedAt + 3_600_000],
    [issuedAt / 1000 + 3600, issuedAt + 3_600_000],
    [undefined, issuedAt + 3_600_000],
    [0, issuedAt + 3_600_000],
  ]
  for (const [expTime, expected] of cases) assert.equal(loginExpiry(expTime, issuedAt), expected, String(expTime))
})
