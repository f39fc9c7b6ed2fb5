/**
 * The referrers of a manifest as a registry states them: the OCI 1.1 referrers API
 * (`GET /v2/<name>/referrers/<digest>`, paged with Link), and the index a registry without it
 * keeps under the fallback tag `<alg>-<hex>`. Both answer an OCI index whose descriptors are
 * input like any other: each is checked here before its digest reaches a URL or a log.
 */
import {FerryError} from '../errors.js'
import {checkDigest, quote} from '../names.js'
import {LISTING_PAGE_LIMIT} from './body-limits.js'
import {nextLink, pageUrl} from './catalog.js'
import {repositoryScope} from './challenge.js'
import type {RegistryClient} from './client.js'
import {OCI_INDEX, type Descriptor} from './media-types.js'
import {PageGuard} from './page-guard.js'

/** A manifest that names another as its `subject`, as an index lists it. */
export interface ReferrerDescriptor extends Descriptor {
  artifactType?: string
}

/** `api`: the registry has the referrers API (possibly an empty list); `absent`: it has not. */
export type ReferrersAnswer = {kind: 'api'; referrers: ReferrerDescriptor[]; filtersApplied: string[]} | {kind: 'absent'}

/** RFC 6838's media type grammar: an artifact type ends up in a report and a log line. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/

/** Whether `text` is a media type (what --referrers-artifact-type and a descriptor's artifactType must be). Pure. */
export function isMediaType(text: string): boolean {
  return MEDIA_TYPE.test(text)
}

/** The fallback tag of the distribution spec: `sha256:abc…` → `sha256-abc…`. Pure. */
export function fallbackTag(digest: string): string {
  return digest.replace(':', '-')
}

/**
 * The referrers API. Asks the registry to filter when one artifact type is wanted; the answer
 * says in `OCI-Filters-Applied` whether it did (the caller filters where it did not). 404 (and
 * 405 from registries that route the path to nothing) means the API is absent.
 */
export async function queryReferrers(
  client: RegistryClient,
  repository: string,
  digest: string,
  options: {artifactType?: string; signal?: AbortSignal} = {},
): Promise<ReferrersAnswer> {
  const what = `list referrers of ${client.registry}/${repository}@${digest}`
  const guard = new PageGuard(what)
  const referrers: ReferrerDescriptor[] = []
  let filtersApplied: string[] = []
  let next: string | undefined =
    `/v2/${repository}/referrers/${digest}${options.artifactType ? `?artifactType=${encodeURIComponent(options.artifactType)}` : ''}`
  let first = true
  while (next) {
    if (options.signal?.aborted) throw new FerryError('ABORTED', `${what}: aborted`)
    const url = pageUrl(next, client.baseUrl, what)
    guard.ask(url.href, `${url.pathname}${url.search}`)
    const response = await client.sendForBuffer({
      method: 'GET',
      path: next,
      scopes: [repositoryScope(repository, ['pull'])],
      headers: {Accept: OCI_INDEX},
      expect: first ? [200, 404, 405] : [200],
      idempotent: true,
      what,
      bodyLimit: {bytes: LISTING_PAGE_LIMIT, name: 'the limit for one page of a listing'},
      signal: options.signal,
    })
    if (response.status !== 200) return {kind: 'absent'}
    // A registry without the API that answers its catch-all page with 200 (an HTML page, a JSON
    // error) has not listed anything: only an index is an answer.
    const page = readIndex(response.data, what, first)
    if (!page) return {kind: 'absent'}
    if (first) filtersApplied = splitList(response.headers['oci-filters-applied'])
    guard.received(page)
    referrers.push(...page)
    first = false
    next = nextLink(response.headers.link)
  }
  return {kind: 'api', referrers, filtersApplied}
}

/**
 * The descriptors of a referrers index (an API page or the fallback tag's manifest), each checked.
 * Undefined when the bytes are no index at all and `lenient`; otherwise that is an error too.
 */
export function readIndex(bytes: Buffer, what: string, lenient = false): ReferrerDescriptor[] | undefined {
  let doc: {manifests?: unknown; mediaType?: unknown}
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc
  } catch {
    if (lenient) return undefined
    throw new FerryError('INVALID_RESPONSE', `${what}: the referrers index is not JSON`)
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.manifests) || (doc.mediaType !== undefined && doc.mediaType !== OCI_INDEX)) {
    if (lenient) return undefined
    throw new FerryError('INVALID_RESPONSE', `${what}: the referrers index is not an OCI index`)
  }
  return doc.manifests.map((item, position) => referrerDescriptor(item, `${what}: manifests[${position}]`))
}

/** One descriptor of a referrers index, checked: its digest goes into URLs and paths, its types into logs. */
export function referrerDescriptor(item: unknown, what: string): ReferrerDescriptor {
  const d = (item ?? {}) as Record<string, unknown>
  if (typeof d.mediaType !== 'string' || !isMediaType(d.mediaType) || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new FerryError('INVALID_RESPONSE', `${what}: a referrer without a valid mediaType or size`)
  }
  const digest = checkDigest(d.digest, `${what} digest`)
  if (d.artifactType !== undefined && (typeof d.artifactType !== 'string' || !isMediaType(d.artifactType))) {
    throw new FerryError('INVALID_RESPONSE', `${what}: artifactType ${quote(String(d.artifactType))} is not a media type`)
  }
  const annotations = plainStrings(d.annotations)
  return {
    mediaType: d.mediaType,
    digest,
    size: d.size,
    ...(d.artifactType ? {artifactType: d.artifactType as string} : {}),
    ...(annotations ? {annotations} : {}),
  }
}

/** Annotations kept only as a map of strings: they travel into the destination's index as they came. */
function plainStrings(value: unknown): Record<string, string> | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined
  const entries = Object.entries(value as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === 'string')
  return entries.length > 0 ? Object.fromEntries(entries) : undefined
}

function splitList(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
}
