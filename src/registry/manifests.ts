import {createHash} from 'node:crypto'

import {sha256Digest} from '../digest.js'
import {FerryError, RegistryError} from '../errors.js'
import {checkDigest, digestProblem} from '../names.js'
import {repositoryScope} from './challenge.js'
import type {RegistryClient} from './client.js'
import {MANIFEST_ACCEPT} from './media-types.js'

export interface ManifestHead {
  digest: string
  mediaType: string
  size: number
}

export interface FetchedManifest extends ManifestHead {
  bytes: Buffer
}

/**
 * The digest of `bytes` under the algorithm of `like` (a digest, checked first), or sha256 when
 * `like` is a tag: a child an index names by its sha512 digest is verified by sha512.
 */
export function digestLike(bytes: Buffer, like: string, what: string): string {
  if (!like.includes(':')) return sha256Digest(bytes)
  const algorithm = checkDigest(like, what).split(':')[0]!
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
}

const PULL = ['pull']
const PUSH = ['pull', 'push']

/** The digest of a manifest without downloading it; undefined when it does not exist. */
export async function headManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  options: {signal?: AbortSignal; push?: boolean} = {},
): Promise<ManifestHead | undefined> {
  const response = await client.send({
    method: 'HEAD',
    path: `/v2/${repository}/manifests/${reference}`,
    scopes: [repositoryScope(repository, options.push ? PUSH : PULL)],
    headers: {Accept: MANIFEST_ACCEPT},
    expect: [200, 404],
    idempotent: true,
    what: `HEAD manifest ${client.registry}/${repository}:${reference}`,
    signal: options.signal,
  })
  if (response.status === 404) return undefined
  const digest = response.headers['docker-content-digest']
  if (!digest) return undefined // cannot compare without it; the caller fetches the manifest instead
  // The copier fetches the manifest by this digest: it goes into a URL.
  checkDigest(digest, `HEAD manifest ${client.registry}/${repository}:${reference}: Docker-Content-Digest`)
  return {digest, mediaType: response.headers['content-type'] ?? '', size: Number(response.headers['content-length'] ?? 0)}
}

/** The exact bytes of a manifest; its digest is computed from them, never taken on trust. */
export async function getManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  options: {signal?: AbortSignal} = {},
): Promise<FetchedManifest> {
  const what = `GET manifest ${client.registry}/${repository}${reference.includes(':') ? '@' : ':'}${reference}`
  const response = await client.sendForBuffer({
    method: 'GET',
    path: `/v2/${repository}/manifests/${reference}`,
    scopes: [repositoryScope(repository, PULL)],
    headers: {Accept: MANIFEST_ACCEPT},
    expect: [200],
    idempotent: true,
    what,
    bodyLimit: {bytes: client.maxManifestBytes, name: 'the manifest limit'},
    signal: options.signal,
  })
  const bytes = response.data
  // By tag, the registry's Docker-Content-Digest is what the bytes must match: as strict as a HEAD
  // then a GET by that digest, one round trip sooner.
  const stated = response.headers['docker-content-digest']
  const expected = reference.includes(':') ? reference : stated && !digestProblem(stated) ? stated : undefined
  const digest = digestLike(bytes, expected ?? reference, what)
  if (expected !== undefined && digest !== expected) {
    throw new FerryError(
      'DIGEST_MISMATCH',
      `${what}: registry served a manifest whose digest is ${digest}${expected === reference ? '' : `, not the ${expected} it stated`}`,
      {
        retryable: true,
      },
    )
  }
  return {bytes, digest, mediaType: response.headers['content-type'] ?? '', size: bytes.length}
}

/** Pushes bytes unchanged, so the digest at the destination equals the source's. */
export async function putManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  manifest: {bytes: Buffer; mediaType: string},
  options: {signal?: AbortSignal} = {},
): Promise<string> {
  return (await pushManifest(client, repository, reference, manifest, options)).digest
}

/**
 * `putManifest`, and whether the registry answered `OCI-Subject`: then it lists a manifest with a
 * `subject` in its referrers API itself, and no fallback tag index is needed.
 */
export async function pushManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  manifest: {bytes: Buffer; mediaType: string},
  options: {signal?: AbortSignal} = {},
): Promise<{digest: string; subjectIndexed: boolean}> {
  const response = await client
    .send({
      method: 'PUT',
      path: `/v2/${repository}/manifests/${reference}`,
      scopes: [repositoryScope(repository, PUSH)],
      headers: {'Content-Type': manifest.mediaType},
      body: manifest.bytes,
      expect: [200, 201, 202],
      idempotent: true,
      what: `PUT manifest ${client.registry}/${repository}${reference.includes(':') ? '@' : ':'}${reference}`,
      signal: options.signal,
    })
    .catch((error: unknown) => {
      throw blobGoneMeanwhile(error)
    })
  const stored = response.headers['docker-content-digest']
  // Only reported, never trusted: a header that is no digest gives way to the one ferry computes.
  const digest = stored && !digestProblem(stored) ? stored : digestLike(manifest.bytes, reference, 'PUT manifest')
  return {digest, subjectIndexed: Boolean(response.headers['oci-subject'])}
}

/**
 * A push refused because a blob it names is missing, although the job had made each one present:
 * deleted meanwhile (a garbage collection, another client) or not yet visible (a registry on
 * eventually consistent storage). The job is worth another attempt, which asks for every blob again
 * (a failed job's repositories are forgotten as holding blobs). Sent once more at once would fail alike.
 */
function blobGoneMeanwhile(error: unknown): unknown {
  if (!(error instanceof RegistryError) || error.code !== 'MANIFEST_BLOB_UNKNOWN' || error.retryable) return error
  return new RegistryError(error.code, `${error.message}; a blob it names is missing at the destination (deleted meanwhile?)`, {
    status: error.status,
    retryable: true,
    cause: error,
  })
}

/**
 * Deletes a manifest by digest. Distribution then removes every tag of the repository that points
 * to it, so callers decide first that no tag they keep does. False when it was already gone.
 */
export async function deleteManifest(client: RegistryClient, repository: string, digest: string, options: {signal?: AbortSignal} = {}): Promise<boolean> {
  checkDigest(digest, `DELETE manifest ${client.registry}/${repository}`)
  const response = await client.send({
    method: 'DELETE',
    path: `/v2/${repository}/manifests/${digest}`,
    // Distribution's token auth asks for the `delete` action on DELETE requests.
    scopes: [repositoryScope(repository, [...PUSH, 'delete'])],
    expect: [200, 202, 404],
    idempotent: true,
    what: `DELETE manifest ${client.registry}/${repository}@${digest}`,
    signal: options.signal,
  })
  return response.status !== 404
}
