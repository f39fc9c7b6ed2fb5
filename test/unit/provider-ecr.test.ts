import assert from 'node:assert/strict'
import {test} from 'node:test'

import {ConfigError, FerryError} from '../../src/errors.js'
import {parseRegistryId, secretCredentials, underNamespace} from '../../src/providers/ecr.js'
import {classifyEcrError, ecrFailure, type EcrCallContext} from '../../src/providers/ecr-errors.js'
import {decodeAuthorization, decodeAuthorizationToken, registryFromProxyEndpoint} from '../../src/providers/ecr-token.js'

const b64 = (text: string) => Buffer.from(text).toString('base64')

test('decodeAuthorizationToken splits at the first colon only', () => {
  const cases: [string, {username: string; password: string} | RegExp][] = [
    [b64('AWS:secret'), {username: 'AWS', password: 'secret'}],
    [b64('AWS:a:b:c'), {username: 'AWS', password: 'a:b:c'}],
    [b64('AWS:'), {username: 'AWS', password: ''}],
    [b64('no-colon'), /not base64 user:password/],
    [b64(':password'), /not base64 user:password/],
  ]
  for (const [token, expected] of cases) {
    if (expected instanceof RegExp) assert.throws(() => decodeAuthorizationToken(token), expected)
    else assert.deepEqual(decodeAuthorizationToken(token), expected)
  }
})

test('registryFromProxyEndpoint: host from the URL, plain HTTP only for http://', () => {
  const cases: [string, {registry: string; insecure: boolean} | RegExp][] = [
    ['https://123456789012.dkr.ecr.us-east-1.amazonaws.com', {registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', insecure: false}],
    ['https://123456789012.dkr.ecr.us-east-1.amazonaws.com/', {registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', insecure: false}],
    ['http://127.0.0.1:5000', {registry: '127.0.0.1:5000', insecure: true}],
    ['HTTP://127.0.0.1:5000', {registry: '127.0.0.1:5000', insecure: true}],
    ['123456789012.dkr.ecr.eu-west-1.amazonaws.com', {registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', insecure: false}],
    ['https://ABC.dkr.ecr.cn-north-1.amazonaws.com.cn', {registry: 'abc.dkr.ecr.cn-north-1.amazonaws.com.cn', insecure: false}],
    ['ftp://example.com', /only http\(s\)/],
    ['https://', /invalid proxyEndpoint/],
  ]
  for (const [endpoint, expected] of cases) {
    if (expected instanceof RegExp) assert.throws(() => registryFromProxyEndpoint(endpoint), expected, endpoint)
    else assert.deepEqual(registryFromProxyEndpoint(endpoint), expected, endpoint)
  }
})

test('decodeAuthorization: expiry from the answer, one hour when absent; missing data is an error', () => {
  const now = 1_000_000
  const full = decodeAuthorization({authorizationToken: b64('AWS:pw'), expiresAt: new Date(now + 12 * 3600_000), proxyEndpoint: 'http://127.0.0.1:1'}, now)
  assert.deepEqual(full, {username: 'AWS', password: 'pw', registry: '127.0.0.1:1', insecure: true, issuedAt: now, expiresAt: now + 12 * 3600_000})
  assert.equal(decodeAuthorization({authorizationToken: b64('AWS:pw'), proxyEndpoint: 'https://r.example'}, now).expiresAt, now + 3600_000)
  assert.throws(() => decodeAuthorization(undefined, now), /no authorization data/)
  assert.throws(() => decodeAuthorization({authorizationToken: b64('AWS:pw')}, now), /no authorization data/)
})

test('classifyEcrError: throttling and transient failures are retried, the rest are not', () => {
  const cases: [unknown, ReturnType<typeof classifyEcrError>][] = [
    [{name: 'ThrottlingException', $metadata: {httpStatusCode: 400}}, 'throttling'],
    [{name: 'TooManyRequestsException'}, 'throttling'],
    [{name: 'Whatever', $metadata: {httpStatusCode: 429}}, 'throttling'],
    [{name: 'ServerException', $metadata: {httpStatusCode: 500}}, 'transient'],
    [{name: 'ServiceUnavailable', $metadata: {httpStatusCode: 503}}, 'transient'],
    [Object.assign(new Error('socket hang up'), {code: 'ECONNRESET'}), 'transient'],
    [{name: 'TimeoutError'}, 'transient'],
    [Object.assign(new Error('refused'), {code: 'ECONNREFUSED'}), 'other'],
    [{name: 'AbortError'}, 'aborted'],
    [{name: 'InvalidSignatureException', $metadata: {httpStatusCode: 400}}, 'other'],
    [{name: 'RepositoryNotFoundException', $metadata: {httpStatusCode: 400}}, 'other'],
    [undefined, 'other'],
  ]
  for (const [error, expected] of cases) assert.equal(classifyEcrError(error), expected, JSON.stringify(error))
})

test('ecrFailure: one line naming the action, the code and what to do; never the server text of auth errors', () => {
  const at = (action: EcrCallContext['action'], extra: Partial<EcrCallContext> = {}): EcrCallContext => ({
    action,
    attempts: 1,
    regionFlag: '--fromRegion',
    ...extra,
  })
  const signatureMessage =
    "The request signature we calculated does not match.\n\nThe Canonical String for this request should have been\n'POST\n/\n\nx-amz-security-token:SESSION'"
  const cases: [unknown, EcrCallContext, {type: typeof ConfigError | typeof FerryError; code: string; message: string; retryable?: boolean}][] = [
    [
      {name: 'InvalidSignatureException', message: signatureMessage},
      at('GetAuthorizationToken'),
      {
        type: ConfigError,
        code: 'AUTH_FAILED',
        message:
          'ecr: GetAuthorizationToken failed with InvalidSignatureException: check the AWS access key id and secret (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the AWS profile, or ecr: secretId/secretKey in the secret file)',
      },
    ],
    [
      {name: 'UnrecognizedClientException'},
      at('DescribeRepositories'),
      {
        type: ConfigError,
        code: 'AUTH_FAILED',
        message:
          'ecr: DescribeRepositories failed with UnrecognizedClientException: check the AWS access key id and secret (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the AWS profile, or ecr: secretId/secretKey in the secret file)',
      },
    ],
    [
      {name: 'ExpiredTokenException'},
      at('ListImages'),
      {
        type: ConfigError,
        code: 'AUTH_FAILED',
        message: 'ecr: ListImages failed with ExpiredTokenException: the AWS credentials have expired; renew the session or check the system clock',
      },
    ],
    [
      {name: 'AccessDeniedException', message: 'User: arn:aws:iam::1:user/x is not authorized'},
      at('CreateRepository', {registryId: '123456789012', repository: 'a/b', regionFlag: '--toRegion'}),
      {
        type: ConfigError,
        code: 'AUTH_FAILED',
        message:
          'ecr: CreateRepository failed with AccessDeniedException: the AWS identity may not call ecr:CreateRepository on registry 123456789012; grant it (see docs/providers/ecr.md#iam-permissions)',
      },
    ],
    [
      new Error('Region is missing'),
      at('GetAuthorizationToken', {regionFlag: '--toRegion'}),
      {type: ConfigError, code: 'INVALID_CONFIG', message: 'ecr: GetAuthorizationToken failed: no AWS region; pass --toRegion or set AWS_REGION'},
    ],
    [
      Object.assign(new Error('Could not load credentials from any providers'), {name: 'CredentialsProviderError'}),
      at('GetAuthorizationToken'),
      {
        type: ConfigError,
        code: 'AUTH_FAILED',
        message:
          'ecr: GetAuthorizationToken failed: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or ecr: {secretId, secretKey} in --secretFile',
      },
    ],
    [
      {name: 'ThrottlingException', message: 'Rate exceeded', $metadata: {httpStatusCode: 400}},
      at('ListImages', {attempts: 5}),
      {
        type: FerryError,
        code: 'ThrottlingException',
        retryable: true,
        message: 'ecr: ListImages failed with ThrottlingException after 5 attempts: AWS is rate-limiting the account; lower --qps or run again later',
      },
    ],
    [
      {name: 'ServerException', message: 'internal', $metadata: {httpStatusCode: 500}},
      at('DescribeRepositories', {attempts: 5}),
      {
        type: FerryError,
        code: 'ServerException',
        retryable: true,
        message: 'ecr: DescribeRepositories failed with ServerException (HTTP 500) after 5 attempts: ECR had a server error; run again later',
      },
    ],
    [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {code: 'ECONNREFUSED'}),
      at('GetAuthorizationToken'),
      {
        type: FerryError,
        code: 'NETWORK',
        retryable: false,
        message: 'ecr: GetAuthorizationToken failed: cannot reach the ECR API (ECONNREFUSED); check the network, the region and AWS_ENDPOINT_URL_ECR if set',
      },
    ],
    [
      {name: 'InvalidParameterException', message: "Invalid parameter at 'repositoryName'"},
      at('CreateRepository', {repository: 'Bad_Name'}),
      {
        type: FerryError,
        code: 'InvalidParameterException',
        message:
          'ecr: CreateRepository failed with InvalidParameterException for repository Bad_Name: ECR repository names are 2-256 lowercase letters, digits and . _ - separated by /',
      },
    ],
    [
      {name: 'InvalidParameterException', message: 'Invalid NextToken\nsecond line'},
      at('ListImages', {repository: 'a/b'}),
      {
        type: FerryError,
        code: 'InvalidParameterException',
        message: 'ecr: ListImages failed with InvalidParameterException for repository a/b: Invalid NextToken',
      },
    ],
    [
      {name: 'LimitExceededException', message: 'quota'},
      at('CreateRepository', {repository: 'a/b'}),
      {
        type: FerryError,
        code: 'LimitExceededException',
        message:
          'ecr: CreateRepository failed with LimitExceededException for repository a/b: an ECR service quota is reached (repositories per registry?); request an increase',
      },
    ],
    [{name: 'AbortError', message: 'Request aborted'}, at('ListImages'), {type: FerryError, code: 'ABORTED', message: 'aborted'}],
  ]
  for (const [error, where, expected] of cases) {
    const failure = ecrFailure(error, where)
    assert.ok(failure instanceof expected.type, `${failure.name} for ${JSON.stringify(error)}`)
    assert.equal(failure.message, expected.message)
    assert.equal(failure.code, expected.code)
    if (expected.retryable !== undefined) assert.equal(failure.retryable, expected.retryable)
    assert.ok(!failure.message.includes('\n') && !failure.message.includes('SESSION'))
  }
})

test('parseRegistryId, secretCredentials and underNamespace', () => {
  assert.equal(parseRegistryId(undefined, '--fromInstance'), undefined)
  assert.equal(parseRegistryId(' ', '--fromInstance'), undefined)
  assert.equal(parseRegistryId(' 123456789012 ', '--fromInstance'), '123456789012')
  for (const bad of ['12345', 'my-registry', '1234567890123', '12345678901a']) {
    assert.throws(() => parseRegistryId(bad, '--toInstance'), /--toInstance is a registry id, the 12-digit AWS account id/, bad)
  }

  assert.equal(secretCredentials(undefined), undefined)
  assert.equal(secretCredentials({}), undefined)
  assert.deepEqual(secretCredentials({secretId: 'AKIA', secretKey: 's'}), {accessKeyId: 'AKIA', secretAccessKey: 's'})
  assert.throws(() => secretCredentials({secretId: 'AKIA'}), /needs both secretId/)
  assert.throws(
    () => secretCredentials({secretKey: 's'}),
    (error: Error) => !error.message.includes("'s'") && /needs both/.test(error.message),
  )

  const cases: [string, string | undefined, boolean][] = [
    ['team/app', undefined, true],
    ['team/app', '', true],
    ['team/app', 'team', true],
    ['team/sub/app', 'team', true],
    ['team', 'team', false],
    ['teamwork/app', 'team', false],
    ['other/team/app', 'team', false],
    ['team/sub/app', 'team/sub', true],
  ]
  for (const [repository, namespace, expected] of cases) assert.equal(underNamespace(repository, namespace), expected, `${repository} under ${namespace}`)
})
