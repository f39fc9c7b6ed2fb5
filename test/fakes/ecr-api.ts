// A fake AWS ECR control plane for the real @aws-sdk/client-ecr: `POST /` routed on
// x-amz-target, SigV4 checked by following SignedHeaders, state per account (registry id), and
// pagination through nextToken. Registries stay real: each account's proxyEndpoint is a local
// docker-registry, and the token's password is the one its htpasswd file accepts.
import {createHash, createHmac, randomUUID, timingSafeEqual} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

/** The SDK reads these itself; a developer's ~/.aws must not leak in, and no instance metadata lookups. */
export const awsEnv = (fake: Pick<FakeEcr, 'url' | 'accessKeyId' | 'secretAccessKey'>): NodeJS.ProcessEnv => ({
  AWS_ENDPOINT_URL_ECR: fake.url,
  AWS_ACCESS_KEY_ID: fake.accessKeyId,
  AWS_SECRET_ACCESS_KEY: fake.secretAccessKey,
  AWS_CONFIG_FILE: path.join('/nonexistent', 'ferry-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: path.join('/nonexistent', 'ferry-aws-credentials'),
  AWS_EC2_METADATA_DISABLED: 'true',
})

const TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.'

export interface FakeEcrAccount {
  /** `http://127.0.0.1:PORT` of the local registry standing in for `<id>.dkr.ecr.<region>.amazonaws.com`. */
  proxyEndpoint: string
  /** The password the local registry's htpasswd holds for user `AWS`. */
  password: string
  /** repository → tag → digest; untagged digests under `untagged`. */
  repositories?: Record<string, {tags?: Record<string, string>; untagged?: string[]}>
}

export interface FakeEcrOptions {
  /** Account id → its registry. The first one answers when a request names no registryId. */
  accounts: Record<string, FakeEcrAccount>
  accessKeyId?: string
  secretAccessKey?: string
  /** Items per page, whatever maxResults asks: small, so that pagination really happens. */
  pageSize?: number
  /** Lifetime of authorization tokens; ECR's is 12 hours. */
  tokenTtlSeconds?: number
  /**
   * Each GetAuthorizationToken hands out a password of its own (`<account password>~<n>`) with its
   * own expiry, which `tokenStatus` judges: for a registry front (ecr-registry-front.ts) that
   * refuses expired tokens the way ECR does. Without it every token is the account's password.
   */
  mintTokens?: boolean
}

export interface FakeEcrRequest {
  action: string
  status: number
  /** `__type` of an error answer. */
  error?: string
  input: Record<string, unknown>
  /** `amz-sdk-request` as sent (`attempt=N; max=M`), to tell SDK retries from ferry's. */
  sdkRequest?: string
  at: number
}

export interface FakeEcr {
  /** `http://127.0.0.1:PORT`, for AWS_ENDPOINT_URL_ECR. */
  url: string
  accessKeyId: string
  secretAccessKey: string
  requests: FakeEcrRequest[]
  count(action: string, filter?: {status?: number; error?: string}): number
  /** Answer the next `times` requests for `action` (or any, with '*') with ThrottlingException. */
  throttle(action: string, times: number): void
  /** Runs before CreateRepository answers, e.g. to check the registry has not seen a push yet. */
  onCreateRepository?: (account: string, repository: string) => Promise<void> | void
  repositoryNames(account: string): string[]
  setTokenTtl(seconds: number): void
  /** A minted token's state at this moment; undefined for a password the fake never issued. */
  tokenStatus(password: string): {account: string; expired: boolean; expiresAt: number} | undefined
  stop(): Promise<void>
}

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message)
  }
}

const REPOSITORY_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/

export async function startFakeEcr(options: FakeEcrOptions): Promise<FakeEcr> {
  const accessKeyId = options.accessKeyId ?? 'AKIAFERRYTEST0000001'
  const secretAccessKey = options.secretAccessKey ?? 'ferry-fake-secret-key/0000000000000000000'
  const pageSize = options.pageSize ?? 2
  let tokenTtl = options.tokenTtlSeconds ?? 12 * 3600
  const accountIds = Object.keys(options.accounts)
  const state = new Map<string, Map<string, {tags: Map<string, string>; untagged: string[]; createdAt: number}>>()
  for (const [id, account] of Object.entries(options.accounts)) {
    const repositories = new Map<string, {tags: Map<string, string>; untagged: string[]; createdAt: number}>()
    for (const [name, images] of Object.entries(account.repositories ?? {})) {
      repositories.set(name, {tags: new Map(Object.entries(images.tags ?? {})), untagged: images.untagged ?? [], createdAt: 1704067200})
    }
    state.set(id, repositories)
  }
  const throttles = new Map<string, number>()
  const requests: FakeEcrRequest[] = []
  const minted = new Map<string, {account: string; expiresAt: number}>()

  function account(input: Record<string, unknown>): {id: string; repositories: NonNullable<ReturnType<typeof state.get>>} {
    const id = typeof input.registryId === 'string' ? input.registryId : accountIds[0]!
    const repositories = state.get(id)
    // Real ECR answers a registry of another account, without a policy granting access, so.
    if (!repositories) throw new ApiError('AccessDeniedException', `User is not authorized to access registry ${id}`)
    return {id, repositories}
  }

  function page<T>(items: T[], input: Record<string, unknown>): {items: T[]; nextToken?: string} {
    const asked = typeof input.maxResults === 'number' ? input.maxResults : 100
    if (asked < 1 || asked > 1000) throw new ApiError('InvalidParameterException', 'maxResults must be between 1 and 1000')
    const size = Math.min(asked, pageSize)
    let start = 0
    if (typeof input.nextToken === 'string') {
      const decoded = Number(
        Buffer.from(input.nextToken, 'base64url')
          .toString('utf8')
          .replace(/^offset:/, ''),
      )
      if (!Number.isInteger(decoded) || decoded < 0) throw new ApiError('InvalidParameterException', 'Invalid NextToken')
      start = decoded
    }
    const end = start + size
    return {
      items: items.slice(start, end),
      nextToken: end < items.length ? Buffer.from(`offset:${end}`).toString('base64url') : undefined,
    }
  }

  function describe(id: string, name: string, createdAt: number): Record<string, unknown> {
    const host = new URL(options.accounts[id]!.proxyEndpoint).host
    return {
      repositoryArn: `arn:aws:ecr:us-east-1:${id}:repository/${name}`,
      registryId: id,
      repositoryName: name,
      repositoryUri: `${host}/${name}`,
      createdAt,
      imageTagMutability: 'MUTABLE',
      imageScanningConfiguration: {scanOnPush: false},
      encryptionConfiguration: {encryptionType: 'AES256'},
    }
  }

  const actions: Record<string, (input: Record<string, unknown>) => Promise<unknown> | unknown> = {
    GetAuthorizationToken(input) {
      const ids = Array.isArray(input.registryIds) && input.registryIds.length > 0 ? (input.registryIds as string[]) : [accountIds[0]!]
      return {
        authorizationData: ids.map((id) => {
          const {id: known} = account({registryId: id})
          const entry = options.accounts[known]!
          const expiresAt = Date.now() + tokenTtl * 1000
          let password = entry.password
          if (options.mintTokens) {
            password = `${entry.password}~${minted.size + 1}`
            minted.set(password, {account: known, expiresAt})
          }
          return {
            authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
            expiresAt: expiresAt / 1000,
            proxyEndpoint: entry.proxyEndpoint,
          }
        }),
      }
    },
    DescribeRepositories(input) {
      const {id, repositories} = account(input)
      let names = [...repositories.keys()].sort()
      if (Array.isArray(input.repositoryNames)) {
        for (const name of input.repositoryNames as string[]) {
          if (!repositories.has(name)) {
            throw new ApiError('RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry with id '${id}'`)
          }
        }
        names = input.repositoryNames as string[]
      }
      const {items, nextToken} = page(names, input)
      return {repositories: items.map((name) => describe(id, name, repositories.get(name)!.createdAt)), nextToken}
    },
    ListImages(input) {
      const {id, repositories} = account(input)
      const name = String(input.repositoryName ?? '')
      const repository = repositories.get(name)
      if (!repository) {
        throw new ApiError('RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry with id '${id}'`)
      }
      const status = (input.filter as {tagStatus?: string} | undefined)?.tagStatus ?? 'ANY'
      const tagged = [...repository.tags].map(([imageTag, imageDigest]) => ({imageDigest, imageTag}))
      const untagged = repository.untagged.map((imageDigest) => ({imageDigest}))
      const ids = status === 'TAGGED' ? tagged : status === 'UNTAGGED' ? untagged : [...tagged, ...untagged]
      const {items, nextToken} = page(ids, input)
      return {imageIds: items, nextToken}
    },
    async CreateRepository(input) {
      const {id, repositories} = account(input)
      const name = String(input.repositoryName ?? '')
      if (!REPOSITORY_NAME.test(name) || name.length < 2 || name.length > 256) {
        throw new ApiError(
          'InvalidParameterException',
          `Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '${REPOSITORY_NAME.source}''`,
        )
      }
      if (repositories.has(name)) {
        throw new ApiError('RepositoryAlreadyExistsException', `The repository with name '${name}' already exists in the registry with id '${id}'`)
      }
      await fake.onCreateRepository?.(id, name)
      const createdAt = Date.now() / 1000
      repositories.set(name, {tags: new Map(), untagged: [], createdAt})
      return {repository: describe(id, name, createdAt)}
    },
  }

  function secretFor(keyId: string): string | undefined {
    return keyId === accessKeyId ? secretAccessKey : undefined
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      void handle(req, Buffer.concat(chunks)).then(({status, body, action, error, input}) => {
        requests.push({action, status, error, input, sdkRequest: header(req, 'amz-sdk-request'), at: Date.now()})
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-requestid': randomUUID(),
          'content-length': Buffer.byteLength(body),
        })
        res.end(body)
      })
    })
  })

  async function handle(
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<{status: number; body: string; action: string; error?: string; input: Record<string, unknown>}> {
    const target = header(req, 'x-amz-target') ?? ''
    const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target || '(none)'
    let input: Record<string, unknown> = {}
    try {
      if (req.method !== 'POST' || req.url !== '/') throw new ApiError('UnknownOperationException', 'only POST / is served', 404)
      verifySignature(req, body, secretFor)
      try {
        input = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {}
      } catch {
        throw new ApiError('SerializationException', 'body is not JSON')
      }
      const handler = Object.hasOwn(actions, action) ? actions[action] : undefined
      if (!handler) throw new ApiError('UnknownOperationException', `unknown operation ${target}`)
      for (const key of [action, '*']) {
        const left = throttles.get(key) ?? 0
        if (left > 0) {
          throttles.set(key, left - 1)
          throw new ApiError('ThrottlingException', 'Rate exceeded')
        }
      }
      return {status: 200, body: JSON.stringify(await handler(input)), action, input}
    } catch (error) {
      const failure = error instanceof ApiError ? error : new ApiError('ServerException', String(error), 500)
      return {status: failure.status, body: JSON.stringify({__type: failure.type, message: failure.message}), action, error: failure.type, input}
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  const fake: FakeEcr = {
    url: `http://127.0.0.1:${port}`,
    accessKeyId,
    secretAccessKey,
    requests,
    count: (action, filter = {}) =>
      requests.filter(
        (r) =>
          (action === '*' || r.action === action) &&
          (filter.status === undefined || r.status === filter.status) &&
          (filter.error === undefined || r.error === filter.error),
      ).length,
    throttle(action, times) {
      throttles.set(action, times)
    },
    repositoryNames: (id) => [...(state.get(id)?.keys() ?? [])].sort(),
    setTokenTtl(seconds) {
      tokenTtl = seconds
    },
    tokenStatus(password) {
      const token = minted.get(password)
      return token && {account: token.account, expired: Date.now() >= token.expiresAt, expiresAt: token.expiresAt}
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return fake
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value.join(',') : value
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest()
const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex')

/**
 * SigV4 as AWS checks it: rebuild the canonical request from the headers the client says it
 * signed, derive the key from the secret we hold for its access key, compare. An unknown key is
 * UnrecognizedClientException; a known key with a wrong signature is InvalidSignatureException.
 */
function verifySignature(req: http.IncomingMessage, body: Buffer, secretFor: (keyId: string) => string | undefined): void {
  const authorization = header(req, 'authorization') ?? ''
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
    authorization,
  )
  if (!match) throw new ApiError('MissingAuthenticationTokenException', 'Missing Authentication Token')
  const [, keyId, date, region, service, signedHeaders, signature] = match as unknown as string[]
  const secret = secretFor(keyId!)
  if (secret === undefined) throw new ApiError('UnrecognizedClientException', 'The security token included in the request is invalid.')
  const amzDate = header(req, 'x-amz-date') ?? ''
  if (!amzDate.startsWith(date!))
    throw new ApiError('InvalidSignatureException', 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP')
  const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'))
  if (!Number.isFinite(signedAt) || Math.abs(Date.now() - signedAt) > 15 * 60_000) {
    throw new ApiError('InvalidSignatureException', 'Signature expired')
  }
  const names = signedHeaders!.split(';')
  if (!names.includes('host') || !names.includes('x-amz-date')) {
    throw new ApiError('InvalidSignatureException', 'host and x-amz-date must be signed')
  }
  const payloadHash = sha256Hex(body)
  const claimed = header(req, 'x-amz-content-sha256')
  if (claimed !== undefined && claimed !== payloadHash) throw new ApiError('InvalidSignatureException', 'payload hash mismatch')
  const canonical = [
    req.method,
    '/',
    '',
    ...names.map((name) => `${name}:${(header(req, name) ?? '').trim().replace(/\s+/g, ' ')}`),
    '',
    signedHeaders,
    payloadHash,
  ].join('\n')
  const scope = `${date}/${region}/${service}/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n')
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service!), 'aws4_request')
  const expected = hmac(key, toSign)
  if (!timingSafeEqual(expected, Buffer.from(signature!, 'hex'))) {
    throw new ApiError(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    )
  }
}
