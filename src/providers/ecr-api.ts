import type {ECRClient} from '@aws-sdk/client-ecr'

import {abortError, FerryError} from '../errors.js'
import type {RequestLimiter} from '../registry/limiter.js'
import {PageGuard} from '../registry/page-guard.js'
import {withRetry} from '../retry.js'
import {ecrFailure, ecrRetryable, type EcrAction} from './ecr-errors.js'
import {decodeAuthorization, type EcrAuthorization} from './ecr-token.js'

type Sdk = typeof import('@aws-sdk/client-ecr')

export interface EcrApiOptions {
  /** Absent: the SDK's chain (AWS_REGION, AWS_DEFAULT_REGION, the profile's region). */
  region?: string
  /** Absent: the SDK's chain (environment, profile, SSO, instance role, …). */
  credentials?: {accessKeyId: string; secretAccessKey: string}
  /** Another account's registry (cross-account access); absent: the caller's own. */
  registryId?: string
  limiter: RequestLimiter
  /** --fromRegion or --toRegion, for the "no region" message. */
  regionFlag: string
  /** Attempts after the first for throttling and transient failures. */
  retries?: number
  retryBaseMs?: number
}

// ECR's maximum for both listings: fewest calls per repository.
const PAGE_SIZE = 1000

/**
 * The four ECR actions ferry needs. The SDK is built with one attempt per call and ferry retries
 * throttling and server errors itself, so that every attempt passes the run's limiter (--qps
 * counts API calls too) and shares the registry client's backoff policy.
 */
export class EcrApi {
  private constructor(
    private readonly sdk: Sdk,
    private readonly client: ECRClient,
    private readonly options: EcrApiOptions,
  ) {}

  static async connect(options: EcrApiOptions): Promise<EcrApi> {
    // SDK releases from 2027 on warn on every Node 20 run; the warning is noise in ferry's output.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
    const sdk = await import('@aws-sdk/client-ecr')
    // The endpoint is left to the SDK, which reads AWS_ENDPOINT_URL_ECR (and AWS_ENDPOINT_URL,
    // and endpoint_url in the profile) itself.
    const client = new sdk.ECRClient({region: options.region, credentials: options.credentials, maxAttempts: 1})
    return new EcrApi(sdk, client, options)
  }

  /** A registry login (base64 `AWS:password`) and the registry it is for. */
  async authorize(signal?: AbortSignal): Promise<EcrAuthorization> {
    const registryIds = this.options.registryId ? [this.options.registryId] : undefined
    // Issued no earlier than asked: a slow answer must not make the login look younger than it is
    // (a refused login is kept while young, temporary-login.ts).
    const asked = Date.now()
    const answer = await this.call('GetAuthorizationToken', signal, undefined, (abortSignal) =>
      this.client.send(new this.sdk.GetAuthorizationTokenCommand({registryIds}), {abortSignal}),
    )
    return decodeAuthorization(answer.authorizationData?.[0], asked)
  }

  /** Repository names, one DescribeRepositories page at a time. */
  async *repositoryPages(signal?: AbortSignal): AsyncGenerator<string[]> {
    let nextToken: string | undefined
    // A token handed back twice would list the same page forever.
    const guard = new PageGuard(`ecr: DescribeRepositories${this.options.registryId ? ` of registry ${this.options.registryId}` : ''}`)
    do {
      const token = nextToken
      guard.ask(token)
      const page = await this.call('DescribeRepositories', signal, undefined, (abortSignal) =>
        this.client.send(new this.sdk.DescribeRepositoriesCommand({registryId: this.options.registryId, nextToken: token, maxResults: PAGE_SIZE}), {
          abortSignal,
        }),
      )
      yield (page.repositories ?? []).map((repository) => repository.repositoryName).filter((name): name is string => Boolean(name))
      nextToken = page.nextToken
    } while (nextToken)
  }

  /** Every tag of a repository (untagged images are left out); undefined once it was deleted. */
  async imageTags(repository: string, signal?: AbortSignal): Promise<string[] | undefined> {
    const tags = new Set<string>()
    let nextToken: string | undefined
    const guard = new PageGuard(`ecr: ListImages of ${repository}`)
    do {
      const token = nextToken
      guard.ask(token)
      let page
      try {
        page = await this.call('ListImages', signal, repository, (abortSignal) =>
          this.client.send(
            new this.sdk.ListImagesCommand({
              registryId: this.options.registryId,
              repositoryName: repository,
              filter: {tagStatus: 'TAGGED'},
              nextToken: token,
              maxResults: PAGE_SIZE,
            }),
            {abortSignal},
          ),
        )
      } catch (error) {
        // Deleted between DescribeRepositories and now: nothing left to copy.
        if (FerryError.is(error) && error.code === 'RepositoryNotFoundException') return undefined
        throw error
      }
      for (const image of page.imageIds ?? []) if (image.imageTag) tags.add(image.imageTag)
      nextToken = page.nextToken
    } while (nextToken)
    return [...tags]
  }

  /** Creates the repository with ECR's defaults; one that exists already is fine. */
  async createRepository(repository: string, signal?: AbortSignal): Promise<'created' | 'exists'> {
    try {
      await this.call('CreateRepository', signal, repository, (abortSignal) =>
        this.client.send(new this.sdk.CreateRepositoryCommand({registryId: this.options.registryId, repositoryName: repository}), {abortSignal}),
      )
      return 'created'
    } catch (error) {
      if (FerryError.is(error) && error.code === 'RepositoryAlreadyExistsException') return 'exists'
      throw error
    }
  }

  private async call<T>(
    action: EcrAction,
    signal: AbortSignal | undefined,
    repository: string | undefined,
    send: (abortSignal: AbortSignal | undefined) => Promise<T>,
  ): Promise<T> {
    let attempts = 0
    try {
      return await withRetry(
        async (attempt) => {
          attempts = attempt
          if (signal?.aborted) throw abortError()
          try {
            return await this.options.limiter.schedule(() => send(signal))
          } catch (error) {
            if (signal?.aborted) throw abortError()
            throw error
          }
        },
        {
          // Attempts after the first, as `retries` always counted them.
          retries: this.options.retries ?? 4,
          backoff: {baseMs: this.options.retryBaseMs ?? 500, maxMs: 10_000},
          retryable: ecrRetryable,
          signal,
        },
      )
    } catch (error) {
      // The SDK's failure becomes ferry's one line; an abort is already one.
      if (FerryError.is(error)) throw error
      throw ecrFailure(error, {action, attempts, regionFlag: this.options.regionFlag, registryId: this.options.registryId, repository})
    }
  }
}
