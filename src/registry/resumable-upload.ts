/**
 * A blob uploaded in streamed PATCH chunks of a fixed size, then committed by an empty PUT with
 * `?digest=`: the form a cut can be resumed from. After a cut ferry asks the session how much it
 * holds (GET on the upload URL → `Range: 0-N`, distribution spec "Pushing a blob in chunks") and
 * goes on from there; only a session that is gone (404, BLOB_UPLOAD_UNKNOWN/INVALID) makes it start
 * a new one. A chunk is streamed, never buffered, so memory does not grow with the chunk size.
 *
 * Distribution cancels a session whose stored size no longer matches the offset its upload URL
 * was issued for: a chunk that reached it in part kills the session, and ferry then starts over.
 * Behind a front that buffers request bodies (nginx's default) a cut chunk never reaches it, and
 * the session goes on from the last whole chunk.
 */
import type {Readable} from 'node:stream'
import {Readable as ReadableStream} from 'node:stream'

import {FerryError, RegistryError} from '../errors.js'
import {repositoryScope} from './challenge.js'
import {cancelUpload, startUpload, withDigest} from './blobs.js'
import type {RegistryClient} from './client.js'

const PUSH = ['pull', 'push']

/** Blobs from this size on are uploaded in resumable chunks; smaller ones in one streamed PUT. */
export const RESUMABLE_THRESHOLD = 32 * 1024 * 1024
/** The chunk of a resumable upload: at most this much is sent again after a cut. */
export const RESUMABLE_CHUNK = 32 * 1024 * 1024
/** Cuts one upload survives (each resumes where the session stands) before it fails. */
const MAX_RESUMES = 8

export interface UploadSession {
  /** The upload URL, absolute; it carries the session's id (never print it whole). */
  location: string
  /** Bytes the session holds. */
  offset: number
}

export interface ResumableUploadOptions {
  signal?: AbortSignal
  chunkSize: number
  /** A session opened earlier (a declined mount, an earlier attempt or run) to go on with. */
  session?: string
  /**
   * Told of every chunk the registry accepted: the session can be resumed from there. Awaited
   * before the next chunk, so a saved session is never more than a chunk behind the registry's.
   */
  onProgress?: (session: UploadSession) => void | Promise<void>
}

/**
 * Uploads `blob` in chunks, resuming after cuts. `open(offset)` gives the blob's bytes from
 * `offset` on (verified on their way). Returns once the registry committed the blob. On a failure
 * that is not a cut the session is cancelled; after a cut that could not be resumed it is left to
 * the caller (a later attempt or run may go on with it; the registry purges it in time).
 */
export async function uploadResumable(
  client: RegistryClient,
  repository: string,
  blob: {digest: string; size: number},
  open: (offset: number) => Promise<Readable>,
  options: ResumableUploadOptions,
): Promise<void> {
  const {signal} = options
  const earlier = options.session ? await uploadStatus(client, repository, options.session, {signal}) : undefined
  if (earlier && earlier.offset > blob.size) await cancelUpload(client, repository, earlier.location)
  let session: UploadSession = earlier && earlier.offset <= blob.size ? earlier : {location: await startUpload(client, repository, {signal}), offset: 0}
  for (let resumes = 0; ; resumes++) {
    const body = await open(session.offset)
    try {
      await sendChunks(client, repository, blob, body, session, options)
      await client.send({
        method: 'PUT',
        path: withDigest(session.location, blob.digest),
        scopes: [repositoryScope(repository, PUSH)],
        headers: {'Content-Type': 'application/octet-stream', 'Content-Length': '0'},
        expect: [201, 204],
        idempotent: false,
        what: `commit blob ${blob.digest} to ${client.registry}/${repository}`,
        signal,
      })
      return
    } catch (error) {
      body.destroy()
      if (!isCut(error) || signal?.aborted) {
        if (!isCut(error) && !signal?.aborted) await cancelUpload(client, repository, session.location)
        throw error
      }
      if (resumes >= MAX_RESUMES) throw error
      const status: UploadSession | undefined = await uploadStatus(client, repository, session.location, {signal}).catch((statusError: unknown) => {
        if (signal?.aborted) throw statusError
        return undefined
      })
      session = status && status.offset <= blob.size ? status : {location: await startUpload(client, repository, {signal}), offset: 0}
    }
  }
}

/**
 * Where an upload session stands: GET on its URL answers 204 with `Range: 0-<last byte>` and the
 * URL to go on with. Undefined when the session is gone.
 */
export async function uploadStatus(
  client: RegistryClient,
  repository: string,
  location: string,
  options: {signal?: AbortSignal} = {},
): Promise<UploadSession | undefined> {
  const response = await client.send({
    method: 'GET',
    path: client.resolve(location),
    scopes: [repositoryScope(repository, PUSH)],
    // Distribution says 404 BLOB_UPLOAD_INVALID for a session it cancelled; some registries 400.
    expect: [200, 204, 400, 404],
    idempotent: true,
    what: `ask ${client.registry}/${repository} where an upload stands`,
    signal: options.signal,
  })
  if (response.status === 400 || response.status === 404) return undefined
  const held = parseRange(response.headers.range)
  if (held === undefined) return undefined
  return {location: response.headers.location ? client.resolve(response.headers.location) : client.resolve(location), offset: held}
}

/** `0-N` (or `bytes=0-N`) → N + 1 bytes held; no header → 0. Distribution says `0-0` for an empty session. */
export function parseRange(header: string | undefined): number | undefined {
  if (header === undefined || header === '') return 0
  const match = /^(?:bytes=)?0-(\d+)$/.exec(header.trim())
  if (!match) return undefined
  const last = Number(match[1])
  return last === 0 ? 0 : last + 1
}

async function sendChunks(
  client: RegistryClient,
  repository: string,
  blob: {digest: string; size: number},
  body: Readable,
  session: UploadSession,
  options: ResumableUploadOptions,
): Promise<void> {
  const pieces = new PieceReader(body, `blob ${blob.digest}`)
  while (session.offset < blob.size) {
    // Chunks end on multiples of the chunk size, where the verifier keeps its hash states.
    const length = Math.min(options.chunkSize - (session.offset % options.chunkSize), blob.size - session.offset)
    const response = await client.send({
      method: 'PATCH',
      path: session.location,
      scopes: [repositoryScope(repository, PUSH)],
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(length),
        'Content-Range': `${session.offset}-${session.offset + length - 1}`,
      },
      body: ReadableStream.from(pieces.take(length), {objectMode: false}),
      expect: [202, 204],
      idempotent: false,
      what: `upload chunk of blob ${blob.digest} to ${client.registry}/${repository}`,
      signal: options.signal,
    })
    session.offset += length
    if (response.headers.location) session.location = client.resolve(response.headers.location)
    await options.onProgress?.({...session})
  }
  // The verifier releases its last bytes only after the digest checked out; the body must end there.
  await pieces.end()
}

/** Reads a stream in consecutive runs of exact lengths, one PATCH body each. */
class PieceReader {
  private readonly reader: AsyncIterator<Buffer>
  private leftover?: Buffer

  constructor(
    body: Readable,
    private readonly what: string,
  ) {
    this.reader = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  }

  async *take(length: number): AsyncGenerator<Buffer> {
    let left = length
    while (left > 0) {
      let data = this.leftover ?? (await this.next())
      this.leftover = undefined
      if (data.length > left) {
        this.leftover = data.subarray(left)
        data = data.subarray(0, left)
      }
      left -= data.length
      yield data
    }
  }

  async end(): Promise<void> {
    if (this.leftover?.length || !(await this.reader.next()).done) {
      throw new FerryError('SIZE_MISMATCH', `${this.what}: the source sent more bytes than its descriptor declares`, {retryable: true})
    }
  }

  private async next(): Promise<Buffer> {
    const result = await this.reader.next()
    if (result.done) throw new FerryError('SIZE_MISMATCH', `${this.what}: the source ended early`, {retryable: true})
    return result.value
  }
}

/**
 * A registry that will not take chunks (no PATCH, no Content-Range, a smaller request cap): the
 * caller sends the blob in one PUT instead, when no chunk was accepted yet.
 */
export function chunksRefused(error: unknown): boolean {
  return error instanceof RegistryError && [400, 405, 413, 415, 416, 501].includes(error.status ?? 0)
}

/** A cut of the connection or a registry that failed for a moment: the session may go on. */
function isCut(error: unknown): boolean {
  if (!FerryError.is(error) || !error.retryable) return false
  if (error.code === 'DIGEST_MISMATCH' || error.code === 'SIZE_MISMATCH') return false
  return error.code === 'NETWORK' || error.code === 'TIMEOUT' || (error instanceof RegistryError && (error.status ?? 0) >= 500)
}

/** The upload URL without its query (Distribution's `_state`) and with its id shortened, for logs. */
export function describeSession(location: string): string {
  const url = new URL(location)
  const parts = url.pathname.split('/')
  const id = parts.pop() ?? ''
  return `${url.origin}${parts.join('/')}/${id.slice(0, 8)}…`
}
