import assert from 'node:assert/strict'
import {test} from 'node:test'

import {abortError} from '../../src/errors.js'
import {acrRetryable, type AcrFailure} from '../../src/providers/acr-errors.js'
import {ecrRetryable} from '../../src/providers/ecr-errors.js'
import {apiError, MAX_RETRIES, retriesFor, tcrRetryable, TencentApiError, THROTTLE_RETRIES, TRANSIENT_RETRIES} from '../../src/providers/tcr-errors.js'
import {retryDelay} from '../../src/retry.js'

// Each provider's classifier says which failures withRetry may try again (attempt counts live in the clients).

test('acrRetryable: throttling and transient failures only', () => {
  const cases: [AcrFailure, boolean][] = [
    [{code: 'Throttling.User'}, true],
    [{code: 'TooManyRequests'}, true],
    [{code: 'ServiceUnavailable'}, true],
    [{code: 'ECONNRESET', network: true}, true],
    [{code: '', status: 502}, true],
    [{code: 'SignatureDoesNotMatch'}, false],
    [{code: 'Forbidden.RAM'}, false],
    [{code: 'INSTANCE_NOT_EXIST'}, false],
    [{code: 'NAMESPACE_ALREADY_EXIST'}, false],
    [{code: 'SomethingElse'}, false],
  ]
  for (const [failure, expected] of cases) assert.equal(acrRetryable(failure), expected, JSON.stringify(failure))
})

test("ecrRetryable: throttling, 5xx and socket errors; never ferry's own abort", () => {
  const aws = (name: string, status?: number, code?: string) => Object.assign(new Error(name), {name, $metadata: {httpStatusCode: status}}, code ? {code} : {})
  const cases: [string, unknown, boolean][] = [
    ['ThrottlingException', aws('ThrottlingException', 400), true],
    ['a 429 of any name', aws('Whatever', 429), true],
    ['ServerException 500', aws('ServerException', 500), true],
    ['ECONNRESET', aws('Error', undefined, 'ECONNRESET'), true],
    ['TimeoutError', aws('TimeoutError'), true],
    ['AccessDeniedException', aws('AccessDeniedException', 400), false],
    ['RepositoryNotFoundException', aws('RepositoryNotFoundException', 400), false],
    ["the SDK's abort", aws('AbortError'), false],
    ["ferry's abort", abortError(), false],
  ]
  for (const [name, error, expected] of cases) assert.equal(ecrRetryable(error), expected, name)
})

test('tcr retriesFor: throttling gets more retries than other transient failures, the rest none', () => {
  const sdkError = (fields: {code?: string; httpCode?: number}) => Object.assign(new Error('x'), {requestId: '', traceId: ''}, fields)
  const failure = (fields: {code?: string; httpCode?: number}) =>
    apiError('tcr', 'DescribeInstances', sdkError(fields), {endpoint: 'https://e', secrets: [], attempts: 1})
  const cases: [string, TencentApiError, number][] = [
    ['RequestLimitExceeded', failure({code: 'RequestLimitExceeded'}), THROTTLE_RETRIES],
    ['RequestLimitExceeded.UinLimitExceeded', failure({code: 'RequestLimitExceeded.UinLimitExceeded'}), THROTTLE_RETRIES],
    ['InternalError', failure({code: 'InternalError'}), TRANSIENT_RETRIES],
    ['HTTP 502', failure({httpCode: 502}), TRANSIENT_RETRIES],
    ['AuthFailure.SignatureFailure', failure({code: 'AuthFailure.SignatureFailure'}), 0],
    ['HTTP 404', failure({httpCode: 404}), 0],
  ]
  for (const [name, error, expected] of cases) assert.equal(retriesFor(error), expected, name)
  assert.equal(MAX_RETRIES, THROTTLE_RETRIES)
})

test('tcr: a transient failure stops at its own budget under the ceiling', () => {
  const error = apiError('tcr', 'DescribeInstances', Object.assign(new Error('x'), {code: 'InternalError'}), {endpoint: 'https://e', secrets: [], attempts: 1})
  const policy = {retries: MAX_RETRIES, backoff: {baseMs: 10}, random: () => 1, retryable: tcrRetryable}
  const delays = [1, 2, 3, 4].map((attempt) => retryDelay(error, attempt, policy))
  assert.deepEqual(delays, [10, 20, undefined, undefined])
  assert.equal(tcrRetryable(abortError(), 1), false, 'an abort is not sent again')
})
