/**
 * Registry notifications → the tag pushes ferry acts on. Distribution sends an envelope for every
 * blob upload and every pull (ferry's own reads included); only a manifest pushed with a tag
 * matters. Names in an event are input like a registry's: a push naming an invalid repository or
 * tag is refused with one line (never matched to a rule, never logged raw). Pure.
 */
import {checkDigest, checkRepositoryName, checkTag, nameRefusal} from '../names.js'

/** A tag pushed at a source registry. */
export interface PushEvent {
  /** The sender's event id (or one derived from the payload), to drop repeats. */
  id: string
  /** Hosts the event names for the registry (`request.host`, the host of `target.url`); any may match a rule. */
  hosts: string[]
  repository: string
  tag: string
  digest?: string
}

export interface ParsedEnvelope {
  pushes: PushEvent[]
  /** Events in the envelope that were not tag pushes (blob pushes, pulls, deletes). */
  ignored: number
  /** Tag pushes whose repository or tag breaks the grammar: one line each, names escaped. */
  refused: string[]
}

/** The push, or the one line refusing it; a digest that is not one is left out (ferry reads the tag's own). */
function checkedPush(sender: string, push: PushEvent): PushEvent | string {
  const refusal =
    nameRefusal(() => checkRepositoryName(push.repository, `${sender} push event, repository`, 'refused')) ??
    nameRefusal(() => checkTag(push.tag, `${sender} push event to ${push.repository}, tag`, 'refused'))
  if (refusal) return refusal.message
  if (push.digest !== undefined && nameRefusal(() => checkDigest(push.digest, ''))) {
    const {digest: _dropped, ...rest} = push
    return rest
  }
  return push
}

function add(out: ParsedEnvelope, checked: PushEvent | string): void {
  if (typeof checked === 'string') out.refused.push(checked)
  else out.pushes.push(checked)
}

/** Media types of the blobs Distribution reports; a manifest push has a manifest type instead. */
const BLOB_MEDIA_TYPES = new Set([
  'application/octet-stream',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.oci.image.layer.v1.tar+gzip',
])

/** A CNCF Distribution notification envelope (`application/vnd.docker.distribution.events.v1+json`). */
export function parseDistributionEnvelope(body: unknown): ParsedEnvelope {
  const events = isObject(body) && Array.isArray(body.events) ? body.events : []
  const out: ParsedEnvelope = {pushes: [], ignored: 0, refused: []}
  for (const event of events) {
    if (!isObject(event) || event.action !== 'push' || !isObject(event.target)) {
      out.ignored++
      continue
    }
    const target = event.target
    const tag = text(target.tag)
    const repository = text(target.repository)
    const mediaType = text(target.mediaType)
    if (!tag || !repository || (mediaType && BLOB_MEDIA_TYPES.has(mediaType))) {
      out.ignored++
      continue
    }
    const hosts = new Set<string>()
    const requestHost = isObject(event.request) ? text(event.request.host) : undefined
    if (requestHost) hosts.add(normalizeHost(requestHost))
    const urlHost = hostOfUrl(text(target.url))
    if (urlHost) hosts.add(urlHost)
    const digest = text(target.digest)
    add(
      out,
      checkedPush('registry', {
        id: text(event.id) ?? `distribution:${[...hosts].join(',')}/${repository}:${tag}@${digest ?? ''}:${text(event.timestamp) ?? ''}`,
        hosts: [...hosts],
        repository,
        tag,
        ...(digest ? {digest} : {}),
      }),
    )
  }
  return out
}

/**
 * Harbor's webhook payload, in either of its formats: Default (`type: PUSH_ARTIFACT`, the event in
 * `event_data`) or CloudEvents (Harbor 2.8+, `type: harbor.artifact.pushed`, the same event in
 * `data`). Only pushes with a tag are acted on; Harbor names a push by digest with the digest as its tag.
 */
export function parseHarborPayload(body: unknown): ParsedEnvelope {
  const out: ParsedEnvelope = {pushes: [], ignored: 0, refused: []}
  const event = harborPush(body)
  if (!event) {
    out.ignored++
    return out
  }
  const {data, when} = event
  const repositoryInfo = isObject(data.repository) ? data.repository : {}
  const namespaced = text(repositoryInfo.namespace) && text(repositoryInfo.name) ? `${text(repositoryInfo.namespace)}/${text(repositoryInfo.name)}` : undefined
  const repository = text(repositoryInfo.repo_full_name) ?? namespaced
  const resources = Array.isArray(data.resources) ? data.resources : []
  for (const resource of resources) {
    const named = isObject(resource) ? text(resource.tag) : undefined
    const tag = named && !DIGEST_LIKE.test(named) ? named : undefined
    const resourceUrl = isObject(resource) ? text(resource.resource_url) : undefined
    // resource_url is host/project/repository:tag, without a scheme.
    const host = resourceUrl ? hostOfUrl(`https://${resourceUrl}`) : undefined
    if (!tag || !repository || !host) {
      out.ignored++
      continue
    }
    const digest = isObject(resource) ? text(resource.digest) : undefined
    add(
      out,
      checkedPush('Harbor', {
        // Harbor has no event id in the body; its retries resend the same body.
        id: `harbor:${host}/${repository}:${tag}@${digest ?? ''}:${when}`,
        hosts: [host],
        repository,
        tag,
        ...(digest ? {digest} : {}),
      }),
    )
  }
  return out
}

/** The push event of either Harbor format, with when it happened; undefined for anything else. */
function harborPush(body: unknown): {data: Record<string, unknown>; when: string} | undefined {
  if (!isObject(body)) return undefined
  if (body.type === 'PUSH_ARTIFACT' && isObject(body.event_data)) return {data: body.event_data, when: String(body.occur_at ?? '')}
  if (body.type === 'harbor.artifact.pushed' && body.specversion !== undefined && isObject(body.data)) return {data: body.data, when: String(body.time ?? '')}
  return undefined
}

const DIGEST_LIKE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/

/** Lower case, without the scheme's default port, so `Registry.example.com:443` matches a rule's `registry.example.com`. */
export function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/:(?:443|80)$/, '')
}

function hostOfUrl(url: string | undefined): string | undefined {
  if (!url) return undefined
  try {
    return normalizeHost(new URL(url).host)
  } catch {
    return undefined
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined
}

/** Remembers the last `capacity` ids: a registry re-sends an event until it is acknowledged. */
export class SeenIds {
  private readonly ids = new Set<string>()

  constructor(private readonly capacity = 10_000) {}

  /** True the first time an id is offered. */
  first(id: string): boolean {
    if (this.ids.has(id)) return false
    this.ids.add(id)
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!)
    return true
  }
}
