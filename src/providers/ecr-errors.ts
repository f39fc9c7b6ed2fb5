import {ConfigError, FerryError} from '../errors.js'

/** The ECR API actions ferry calls (the IAM actions are the same names with `ecr:`). */
export type EcrAction = 'GetAuthorizationToken' | 'DescribeRepositories' | 'ListImages' | 'CreateRepository'

/** What an AWS SDK v3 error carries, as far as ferry reads it. */
export interface AwsErrorLike {
  name?: string
  code?: string
  message?: string
  $fault?: string
  $metadata?: {httpStatusCode?: number}
}

/** Where the failure happened, for the message. */
export interface EcrCallContext {
  action: EcrAction
  attempts: number
  /** The flag that sets the region on this side (--fromRegion or --toRegion). */
  regionFlag: string
  registryId?: string
  repository?: string
}

export type EcrErrorKind = 'throttling' | 'transient' | 'aborted' | 'other'

// Codes the AWS SDKs themselves treat as throttling (smithy's THROTTLING_ERROR_CODES, ECR's subset).
const THROTTLING = new Set([
  'ThrottlingException',
  'ThrottledException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
])
const TRANSIENT_NETWORK = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN'])
const BAD_KEY = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'InvalidClientTokenId',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
])
const EXPIRED_KEY = new Set(['ExpiredTokenException', 'ExpiredToken', 'RequestExpired'])

/** Which errors ferry retries itself (the SDK is built with one attempt, so each one is counted). Pure. */
export function classifyEcrError(error: unknown): EcrErrorKind {
  const e = (error ?? {}) as AwsErrorLike
  if (e.name === 'AbortError') return 'aborted'
  if (e.name && THROTTLING.has(e.name)) return 'throttling'
  const status = e.$metadata?.httpStatusCode
  if (status === 429) return 'throttling'
  if (status !== undefined && status >= 500) return 'transient'
  if (e.code && TRANSIENT_NETWORK.has(e.code)) return 'transient'
  if (e.name === 'TimeoutError') return 'transient'
  return 'other'
}

/** Worth another attempt: throttling and transient failures (5xx, the network); nothing ferry raised itself. Pure. */
export function ecrRetryable(error: unknown): boolean {
  if (FerryError.is(error)) return false
  const kind = classifyEcrError(error)
  return kind === 'throttling' || kind === 'transient'
}

/**
 * An SDK failure as one line naming the provider, the action, the error code and what to do.
 * The server's own message is quoted only where it helps and can hold nothing secret: AWS puts
 * the canonical request (session token included) in signature errors. Pure.
 */
export function ecrFailure(error: unknown, where: EcrCallContext): FerryError {
  const e = (error ?? {}) as AwsErrorLike
  const name = e.name && e.name !== 'Error' ? e.name : undefined
  const failed = `ecr: ${where.action} failed`
  const registry = where.registryId ? ` on registry ${where.registryId}` : ''
  if (e.message === 'Region is missing' || name === 'RegionMissingError') {
    return new ConfigError(`${failed}: no AWS region; pass ${where.regionFlag} or set AWS_REGION`)
  }
  if (name === 'CredentialsProviderError') {
    return new ConfigError(
      `${failed}: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or ecr: {secretId, secretKey} in --secretFile`,
      {code: 'AUTH_FAILED'},
    )
  }
  if (name && BAD_KEY.has(name)) {
    return new ConfigError(
      `${failed} with ${name}: check the AWS access key id and secret (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the AWS profile, or ecr: secretId/secretKey in the secret file)`,
      {code: 'AUTH_FAILED'},
    )
  }
  if (name && EXPIRED_KEY.has(name)) {
    return new ConfigError(`${failed} with ${name}: the AWS credentials have expired; renew the session or check the system clock`, {code: 'AUTH_FAILED'})
  }
  if (name === 'AccessDeniedException') {
    return new ConfigError(
      `${failed} with AccessDeniedException: the AWS identity may not call ecr:${where.action}${registry}; grant it (see docs/providers/ecr.md#iam-permissions)`,
      {code: 'AUTH_FAILED'},
    )
  }
  const kind = classifyEcrError(error)
  if (kind === 'aborted') return new FerryError('ABORTED', 'aborted')
  const after = where.attempts > 1 ? ` after ${where.attempts} attempts` : ''
  if (kind === 'throttling') {
    return new FerryError(
      name ?? 'ThrottlingException',
      `${failed} with ${name ?? 'HTTP 429'}${after}: AWS is rate-limiting the account; lower --qps or run again later`,
      {
        retryable: true,
      },
    )
  }
  if (!name || e.code) {
    const code = e.code ?? 'unknown error'
    return new FerryError('NETWORK', `${failed}${after}: cannot reach the ECR API (${code}); check the network, the region and AWS_ENDPOINT_URL_ECR if set`, {
      retryable: kind === 'transient',
    })
  }
  if (kind === 'transient') {
    return new FerryError(name, `${failed} with ${name} (HTTP ${e.$metadata?.httpStatusCode})${after}: ECR had a server error; run again later`, {
      retryable: true,
    })
  }
  const repository = where.repository ? ` for repository ${where.repository}` : ''
  const hint = HINTS[name]?.(where) ?? firstLine(e.message)
  return new FerryError(name, `${failed} with ${name}${repository}${hint ? `: ${hint}` : ''}`)
}

const HINTS: Record<string, (where: EcrCallContext) => string | undefined> = {
  RepositoryNotFoundException: (where) => `it does not exist in the registry${where.registryId ? ` ${where.registryId}` : ''}`,
  LimitExceededException: () => 'an ECR service quota is reached (repositories per registry?); request an increase',
  InvalidParameterException: (where) =>
    where.action === 'CreateRepository' ? 'ECR repository names are 2-256 lowercase letters, digits and . _ - separated by /' : undefined,
}

function firstLine(message: string | undefined): string {
  const line = (message ?? '').split('\n')[0]!.trim()
  return line.length > 160 ? `${line.slice(0, 157)}...` : line
}
