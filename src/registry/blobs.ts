import type {Readable} from 'node:stream'

import {FerryError, RegistryError} from '../errors.js'
import {repositoryScope} from './challenge.js'
import type {RegistryClient} from './client.js'
import {readBlob, type FetchRange, type RangedSettings} from './ranged-reader.js'

const PULL = ['pull']
const PUSH = ['pull', 'push']

export interface BlobTarget {
  digest: string
  size: number
}

/** True when the repository already holds the blob. `push: false` asks for a pull-only token (verify, dry run). */
export async function blobExists(
  client: RegistryClient,
  repository: string,
  digest: string,
  options: {signal?: AbortSignal; push?: boolean} = {},
): Promise<boolean> {
  const response = await client.send({
    method: 'HEAD',
    path: `/v2/${repository}/blobs/${digest}`,
    // A destination that is about to be written asks for push at once, so HEAD and PUT share one token.
    scopes: [repositoryScope(repository, options.push === false ? PULL : PUSH)],
    // Some Harbor versions say 400 where they mean "not here".
    expect: [200, 404, 400],
    idempotent: true,
    what: `HEAD blob ${client.registry}/${repository}@${digest}`,
    signal: options.signal,
  })
  return response.status === 200
}

export interface OpenBlobOptions {
  signal?: AbortSignal
  /** The first byte to read; a source that cannot start there fails with RANGE_UNSUPPORTED. */
  offset?: number
  /** Large blobs over several connections (ranged-reader.ts); absent: one stream. */
  ranged?: RangedSettings
}

/**
 * The blob's bytes from `offset` to its end, as a stream; the caller verifies them. Every request
 * goes through the client (limiter, auth, address guard); a redirect to storage is followed with
 * the Range header. A cut in the middle of the body is continued with a Range request, a few times;
 * what cannot be continued fails as a request does: a typed, retryable error.
 */
export async function openBlob(client: RegistryClient, repository: string, blob: BlobTarget, options: OpenBlobOptions = {}): Promise<Readable> {
  const what = `GET blob ${client.registry}/${repository}@${blob.digest}`
  const fetch: FetchRange = async ({start, end, ifRange}) => {
    const headers: Record<string, string> = {}
    if (start > 0 || end !== undefined) headers.Range = `bytes=${start}-${end ?? ''}`
    if (ifRange && headers.Range) headers['If-Range'] = ifRange
    const response = await client.send({
      method: 'GET',
      path: `/v2/${repository}/blobs/${blob.digest}`,
      scopes: [repositoryScope(repository, PULL)],
      headers,
      responseType: 'stream',
      expect: [200, 206],
      idempotent: true,
      what,
      signal: options.signal,
    })
    return {status: response.status, headers: response.headers, body: response.data as Readable}
  }
  return readBlob(fetch, {size: blob.size, offset: options.offset, what, signal: options.signal, ranged: options.ranged})
}

export type MountOutcome = {mounted: true} | {mounted: false; location: string}

/**
 * Asks the registry to link a blob it already holds in `from` into `repository`. A registry that
 * will not mount answers 202 with an upload session, which the caller then uses for a normal upload.
 */
export async function mountBlob(
  client: RegistryClient,
  repository: string,
  digest: string,
  from: string,
  options: {signal?: AbortSignal} = {},
): Promise<MountOutcome> {
  const query = new URLSearchParams({mount: digest, from})
  const response = await client.send({
    method: 'POST',
    path: `/v2/${repository}/blobs/uploads/?${query}`,
    scopes: [repositoryScope(repository, PUSH), repositoryScope(from, PULL)],
    headers: {'Content-Length': '0'},
    expect: [201, 202],
    idempotent: false,
    what: `mount blob ${digest} from ${from} into ${client.registry}/${repository}`,
    signal: options.signal,
  })
  if (response.status === 201) return {mounted: true}
  return {mounted: false, location: uploadLocation(client, response.headers, repository)}
}

export async function startUpload(client: RegistryClient, repository: string, options: {signal?: AbortSignal} = {}): Promise<string> {
  const response = await client.send({
    method: 'POST',
    path: `/v2/${repository}/blobs/uploads/`,
    scopes: [repositoryScope(repository, PUSH)],
    headers: {'Content-Length': '0'},
    expect: [202],
    idempotent: false,
    what: `start upload to ${client.registry}/${repository}`,
    signal: options.signal,
  })
  return uploadLocation(client, response.headers, repository)
}

/** Used when a registry refuses a blob in one streamed PUT as too large (413). */
export const FALLBACK_CHUNK_SIZE = 16 * 1024 * 1024

export interface UploadOptions {
  signal?: AbortSignal
  /** An upload session already open (one a declined mount left behind). */
  session?: string
  /** PATCH chunks of this many bytes instead of one streamed PUT. */
  chunkSize?: number
}

/**
 * Uploads a blob: one streamed PUT, or PATCH chunks of `chunkSize`. `open` gives the bytes; a
 * stream cannot be sent twice, so a registry that refuses the PUT as too large (413) gets the
 * blob again, from a fresh `open`, in chunks of FALLBACK_CHUNK_SIZE in a new session. A failed
 * upload discards its body and cancels its session.
 */
export async function uploadBlob(
  client: RegistryClient,
  repository: string,
  blob: BlobTarget,
  open: () => Promise<Readable>,
  options: UploadOptions = {},
): Promise<void> {
  const {signal} = options
  const once = async (chunkSize: number | undefined, session: string | undefined) => {
    const body = await open()
    let location: string | undefined
    try {
      location = session ?? (await startUpload(client, repository, {signal}))
      if (chunkSize) await putBlobChunked(client, repository, location, blob, body, chunkSize, {signal})
      else await putBlob(client, repository, location, blob, body, {signal})
    } catch (error) {
      body.destroy()
      if (location) await cancelUpload(client, repository, location)
      throw error
    }
  }
  try {
    await once(options.chunkSize, options.session)
  } catch (error) {
    if (options.chunkSize || !(error instanceof RegistryError && error.status === 413)) throw error
    await once(FALLBACK_CHUNK_SIZE, undefined)
  }
}

/** One streamed PUT: the body is committed under `digest` only if the registry receives all of it. */
export async function putBlob(
  client: RegistryClient,
  repository: string,
  location: string,
  blob: BlobTarget,
  body: Readable,
  options: {signal?: AbortSignal} = {},
): Promise<void> {
  await client.send({
    method: 'PUT',
    path: withDigest(location, blob.digest),
    scopes: [repositoryScope(repository, PUSH)],
    headers: {'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size)},
    body,
    expect: [201, 204],
    idempotent: false,
    what: `upload blob ${blob.digest} to ${client.registry}/${repository}`,
    signal: options.signal,
  })
}

/**
 * Chunked upload (PATCH per chunk, then an empty PUT that commits), for registries that cap a
 * request's size. Holds one chunk in memory at a time; the commit happens only after the whole
 * body has been read, so a verifier in front of `body` still fails the upload before it lands.
 */
export async function putBlobChunked(
  client: RegistryClient,
  repository: string,
  location: string,
  blob: BlobTarget,
  body: Readable,
  chunkSize: number,
  options: {signal?: AbortSignal} = {},
): Promise<void> {
  let current = location
  let offset = 0
  const send = async (chunk: Buffer) => {
    const response = await client.send({
      method: 'PATCH',
      path: current,
      scopes: [repositoryScope(repository, PUSH)],
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(chunk.length),
        'Content-Range': `${offset}-${offset + chunk.length - 1}`,
      },
      body: chunk,
      expect: [202, 204],
      idempotent: false,
      what: `upload chunk of blob ${blob.digest} to ${client.registry}/${repository}`,
      signal: options.signal,
    })
    offset += chunk.length
    current = uploadLocation(client, response.headers, repository, current)
  }
  let pending: Buffer[] = []
  let pendingSize = 0
  for await (const piece of body) {
    let data = piece as Buffer
    while (data.length > 0) {
      const take = Math.min(chunkSize - pendingSize, data.length)
      pending.push(data.subarray(0, take))
      pendingSize += take
      data = data.subarray(take)
      if (pendingSize === chunkSize) {
        await send(Buffer.concat(pending))
        pending = []
        pendingSize = 0
      }
    }
  }
  if (pendingSize > 0) await send(Buffer.concat(pending))
  await client.send({
    method: 'PUT',
    path: withDigest(current, blob.digest),
    scopes: [repositoryScope(repository, PUSH)],
    headers: {'Content-Type': 'application/octet-stream', 'Content-Length': '0'},
    expect: [201, 204],
    idempotent: false,
    what: `commit blob ${blob.digest} to ${client.registry}/${repository}`,
    signal: options.signal,
  })
}

/** Best effort: frees the registry's upload session after a failed upload. */
export async function cancelUpload(client: RegistryClient, repository: string, location: string): Promise<void> {
  await client
    .send({
      method: 'DELETE',
      path: location,
      scopes: [repositoryScope(repository, PUSH)],
      expect: [200, 202, 204, 404],
      idempotent: true,
      what: `cancel upload to ${client.registry}/${repository}`,
    })
    .catch(() => undefined)
}

function uploadLocation(client: RegistryClient, headers: Record<string, string>, repository: string, fallback?: string): string {
  const location = headers.location ?? fallback
  if (!location) {
    throw new FerryError('UPLOAD_INVALID', `registry ${client.registry} opened an upload to ${repository} without a Location`)
  }
  return client.resolve(location)
}

export function withDigest(location: string, digest: string): string {
  const url = new URL(location)
  url.searchParams.set('digest', digest)
  return url.toString()
}
