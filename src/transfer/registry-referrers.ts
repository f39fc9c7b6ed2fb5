/**
 * Where a registry keeps the referrers of a manifest, asked as cheaply as a no-change run needs:
 * the referrers API once per manifest where the registry has it (a registry found without it is
 * not asked again in the run), and the tag scheme from one tag listing per repository (kept a
 * short while, filtered to the scheme's tags), so that a manifest without referrers at a registry
 * without the API costs no request of its own.
 */
import {RegistryError} from '../errors.js'
import {listTags} from '../registry/catalog.js'
import type {RegistryClient} from '../registry/client.js'
import {getManifest, headManifest, type FetchedManifest} from '../registry/manifests.js'
import {fallbackTag, queryReferrers, readIndex} from '../registry/referrers.js'
import type {FoundReferrer} from './endpoints.js'
import {cosignTags, isReferrerTag, keepReferrers} from './referrer-set.js'

/**
 * A repository's tags of the schemes are listed again after this long: a long-lived session (a
 * fleet worker) sees a signature pushed later, and the jobs of one run share one listing.
 */
const TAGS_TTL_MS = 30_000

export class RegistryReferrers {
  /** Per registry: whether it has the referrers API, once known. */
  private readonly api = new Map<string, boolean>()
  private readonly tags = new Map<string, {at: number; tags: Promise<Set<string> | undefined>}>()

  constructor(private readonly now: () => number = Date.now) {}

  /** The referrers of `digest` in `repository` of the wanted artifact types (all when none). */
  async find(client: RegistryClient, repository: string, digest: string, wanted: readonly string[], signal?: AbortSignal): Promise<FoundReferrer[]> {
    const [answer, tags] = await Promise.all([
      this.api.get(client.registry) === false
        ? undefined
        : queryReferrers(client, repository, digest, {artifactType: wanted.length === 1 ? wanted[0] : undefined, signal}),
      this.schemeTags(client, repository, signal),
    ])
    if (answer) this.api.set(client.registry, answer.kind === 'api')
    const found: FoundReferrer[] = []
    const has = (tag: string) => (tags ? Promise.resolve(tags.has(tag)) : headManifest(client, repository, tag, {signal}).then(Boolean))
    if (answer?.kind === 'api') {
      found.push(...keepReferrers(answer.referrers, wanted, answer.filtersApplied).map((descriptor) => ({descriptor})))
    } else if (await has(fallbackTag(digest))) {
      const index = await readOptional(client, repository, fallbackTag(digest), signal)
      const what = `referrers index ${client.registry}/${repository}:${fallbackTag(digest)}`
      if (index) found.push(...keepReferrers(readIndex(index.bytes, what)!, wanted).map((descriptor) => ({descriptor})))
    }
    // cosign writes its tags whether or not the registry has the API.
    for (const {tag, artifactType} of cosignTags(digest)) {
      if (wanted.length > 0 && !wanted.includes(artifactType)) continue
      if (!(await has(tag))) continue
      const head = await headManifest(client, repository, tag, {signal})
      if (head) found.push({descriptor: {mediaType: head.mediaType, digest: head.digest, size: head.size, artifactType}, tag})
    }
    return found
  }

  /** Whether the registry lists referrers itself: known from a push it answered with OCI-Subject, or asked once. */
  async listsReferrers(client: RegistryClient, repository: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const known = this.api.get(client.registry)
    if (known !== undefined) return known
    const answer = await queryReferrers(client, repository, digest, {signal})
    this.api.set(client.registry, answer.kind === 'api')
    return answer.kind === 'api'
  }

  /** A push answered with `OCI-Subject`: the registry has the API. */
  learnIndexed(registry: string): void {
    this.api.set(registry, true)
  }

  /**
   * The repository's tags of the schemes, or undefined where it cannot be listed (a registry that
   * allows pulls but not listings): the caller then asks for each tag on its own.
   */
  private schemeTags(client: RegistryClient, repository: string, signal?: AbortSignal): Promise<Set<string> | undefined> {
    const key = `${client.registry}\u0000${repository}`
    const cached = this.tags.get(key)
    if (cached && this.now() - cached.at < TAGS_TTL_MS) return cached.tags
    const tags = (async () => {
      const out = new Set<string>()
      try {
        for await (const tag of listTags(client, repository, {signal})) if (typeof tag === 'string' && isReferrerTag(tag)) out.add(tag)
      } catch (error) {
        if (signal?.aborted || !(error instanceof RegistryError) || error.retryable) throw error
        return undefined
      }
      return out
    })()
    this.tags.set(key, {at: this.now(), tags})
    // A failed listing is not kept: the next job asks again.
    tags.catch(() => this.tags.delete(key))
    return tags
  }
}

/** A manifest's bytes, undefined when the registry has none under `reference`. */
export async function readOptional(client: RegistryClient, repository: string, reference: string, signal?: AbortSignal): Promise<FetchedManifest | undefined> {
  try {
    return await getManifest(client, repository, reference, {signal})
  } catch (error) {
    if (error instanceof RegistryError && error.status === 404) return undefined
    throw error
  }
}
