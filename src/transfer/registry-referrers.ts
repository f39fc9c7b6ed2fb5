/**
 * Where a registry keeps the referrers of a manifest, asked as cheaply as a no-change run needs:
 * the referrers API once per manifest where the registry has it (a registry found without it is
 * not asked again in the run), and the tag scheme from one tag listing per repository (kept a
 * short while, filtered to the scheme's tags), so that a manifest without referrers at a registry
 * without the API costs no request of its own.
 */
import {listTags, type Listed} from '../registry/catalog.js'
import type {RegistryClient} from '../registry/client.js'
import {FerryError, RegistryError} from '../errors.js'
import {getManifest, headManifest, type FetchedManifest} from '../registry/manifests.js'
import {fallbackTag, queryReferrers, readIndex, type ReferrersAnswer} from '../registry/referrers.js'
import type {FoundReferrer} from './endpoints.js'
import {cosignTags, isReferrerTag, keepReferrers} from './referrer-set.js'

/**
 * A repository's tags of the schemes are listed again after this long: a long-lived session (a
 * fleet worker) sees a signature pushed later, and the jobs of one run share one listing.
 */
const TAGS_TTL_MS = 30_000

export class RegistryReferrers {
  /**
   * Per registry: whether it has the referrers API. The first question's answer, awaited by the
   * questions that come while it is asked, so a registry without it is asked once, not once per routine.
   */
  private readonly api = new Map<string, Promise<boolean>>()
  private readonly tags = new Map<string, {at: number; tags: Promise<Set<string> | undefined>}>()

  constructor(private readonly now: () => number = Date.now) {}

  /** The referrers of `digest` in `repository` of the wanted artifact types (all when none). */
  async find(client: RegistryClient, repository: string, digest: string, wanted: readonly string[], signal?: AbortSignal): Promise<FoundReferrer[]> {
    const query = () => queryReferrers(client, repository, digest, {artifactType: wanted.length === 1 ? wanted[0] : undefined, signal})
    const [answer, tags] = await Promise.all([this.ask(client.registry, query), this.schemeTags(client, repository, signal)])
    // Where the repository could not be listed, each tag is asked for on its own.
    const head = (tag: string) => (tags && !tags.has(tag) ? undefined : headManifest(client, repository, tag, {signal}))
    const found: FoundReferrer[] = []
    if (answer?.kind === 'api') {
      found.push(...keepReferrers(answer.referrers, wanted, answer.filtersApplied).map((descriptor) => ({descriptor})))
    } else if (!tags || tags.has(fallbackTag(digest))) {
      const index = await readOptional(client, repository, fallbackTag(digest), signal)
      const what = `referrers index ${client.registry}/${repository}:${fallbackTag(digest)}`
      if (index) found.push(...keepReferrers(readIndex(index.bytes, what)!, wanted).map((descriptor) => ({descriptor})))
    }
    // cosign writes its tags whether or not the registry has the API.
    for (const {tag, artifactType} of cosignTags(digest)) {
      if (wanted.length > 0 && !wanted.includes(artifactType)) continue
      const at = await head(tag)
      if (at) found.push({descriptor: {mediaType: at.mediaType, digest: at.digest, size: at.size, artifactType}, tag})
    }
    return found
  }

  /** Whether the registry lists referrers itself: known from a push it answered with OCI-Subject, or asked once. */
  async listsReferrers(client: RegistryClient, repository: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const known = this.api.get(client.registry)
    if (known) return known
    return (await this.ask(client.registry, () => queryReferrers(client, repository, digest, {signal})))?.kind === 'api'
  }

  /** A push answered with `OCI-Subject`: the registry has the API. */
  learnIndexed(registry: string): void {
    this.api.set(registry, Promise.resolve(true))
  }

  /**
   * The API's answer, or undefined where the registry is known to lack it. The first question to a
   * registry settles that for the run; a failed one settles nothing.
   */
  private async ask(registry: string, query: () => Promise<ReferrersAnswer>): Promise<ReferrersAnswer | undefined> {
    const known = this.api.get(registry)
    if (known) return (await known.catch(() => true)) ? query() : undefined
    const answer = query()
    const settled = answer.then((found) => found.kind === 'api')
    this.api.set(registry, settled)
    settled.catch(() => {
      if (this.api.get(registry) === settled) this.api.delete(registry)
    })
    return answer
  }

  /**
   * Passes a run's own listing of a repository's tags through, keeping the scheme's tags for the
   * lookups of its jobs: a repository listed to make jobs is not listed again to find their
   * referrers. Only a listing read to its end is kept, and nothing waits for one in progress: the
   * listing waits for routines to take its jobs, and a routine waiting for the listing would hold
   * them both. One that breaks leaves the tags to be asked for one by one (the rule says once why).
   */
  async *sharedListing(registry: string, repository: string, listing: AsyncIterable<Listed>): AsyncGenerator<Listed> {
    const found = new Set<string>()
    const keep = (tags: Set<string> | undefined) => this.tags.set(`${registry}\u0000${repository}`, {at: this.now(), tags: Promise.resolve(tags)})
    try {
      for await (const tag of listing) {
        if (typeof tag === 'string' && isReferrerTag(tag)) found.add(tag)
        yield tag
      }
    } catch (error) {
      if (FerryError.is(error) && error.code !== 'ABORTED') keep(undefined)
      throw error
    }
    keep(found)
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
        // A listing the registry refuses or breaks (its own job's listing says so, once) leaves the
        // tags to be asked for one by one.
        if (signal?.aborted) throw error
        return undefined
      }
      return out
    })()
    this.tags.set(key, {at: this.now(), tags})
    // An aborted listing is not kept.
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
