/**
 * Reading one blob from a registry: as one stream, or, when it is large, over several connections
 * at once with Range requests on parts, put back in order into the one stream the digest verifier
 * reads. A read cut in the middle (a reset, an idle timeout) continues from the last byte received
 * with a Range request; a 200 is never glued onto bytes already handed on. Knows nothing of HTTP:
 * `FetchRange` (blobs.ts) sends the requests through the registry client.
 */
import {Readable} from 'node:stream'

import {FerryError} from '../errors.js'
import {networkError} from './errors.js'

/** Connections per blob when the settings name none (bench --far: docs/far-links.md). */
export const DEFAULT_BLOB_CONNECTIONS = 12
/**
 * Bytes per Range request of a part. 4 MiB over 12 connections read a big layer faster across the
 * emulated far link than 8 MiB over 8, and hold less (48 MiB per blob, not 64): the last parts,
 * each capped at one connection's speed, end sooner (docs/far-links.md).
 */
export const PART_SIZE = 4 * 1024 * 1024
/** Blobs smaller than this are read as one stream: a few parts gain less than their round trips cost. */
export const RANGED_THRESHOLD = 16 * 1024 * 1024
/** Resumes of one opening of a blob, over all its parts; then the read fails (and the copy may retry it). */
export const MAX_RESUMES = 5
/** Parts beyond each blob's first that a run reads at once, over all its blobs (96 MiB of parts). */
export const RUN_PART_SLOTS = 24
/** The most bytes of a part handed on as one buffer. */
const BATCH = 1024 * 1024

/**
 * The run's budget of extra parts: a blob always reads its head part, and reads further parts in
 * parallel only while the budget allows, so many large blobs read at once cannot multiply the
 * memory by their number. Never waited on: a blob without a slot goes on with what it has.
 */
export class PartSlots {
  constructor(private free: number = RUN_PART_SLOTS) {}

  take(): boolean {
    if (this.free <= 0) return false
    this.free--
    return true
  }

  give(): void {
    this.free++
  }
}

export interface RangedSettings {
  /** Connections one blob is read over at once; 1 reads every blob as one stream. */
  connections: number
  /** Blobs (from the offset on) smaller than this are read as one stream. */
  threshold?: number
  /** Bytes per part. */
  partSize?: number
  /** The run's budget of parts beyond each blob's first; absent: `connections` per blob, unbounded over blobs. */
  slots?: PartSlots
}

/** An inclusive byte range, as HTTP writes them. */
export interface Part {
  start: number
  end: number
}

/** `[start, size)` cut into parts of `partSize` (the last one shorter). Pure. */
export function planParts(start: number, size: number, partSize: number): Part[] {
  if (!(partSize > 0)) throw new RangeError(`part size ${partSize}`)
  const parts: Part[] = []
  for (let at = start; at < size; at += partSize) parts.push({start: at, end: Math.min(at + partSize, size) - 1})
  return parts
}

/** Whether `size - offset` bytes are worth reading over several connections. Pure. */
export function readsInParts(size: number, offset: number, settings: RangedSettings | undefined): boolean {
  if (!settings || settings.connections < 2) return false
  return size - offset >= (settings.threshold ?? RANGED_THRESHOLD)
}

/** `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`); undefined when it is not one. Pure. */
export function parseContentRange(header: string | undefined): {start: number; end: number; total?: number} | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((header ?? '').trim())
  if (!match) return undefined
  const [start, end] = [Number(match[1]), Number(match[2])]
  if (end < start) return undefined
  return {start, end, ...(match[3] === '*' ? {} : {total: Number(match[3])})}
}

/** The validator for If-Range: a strong ETag only (RFC 9110 forbids a weak one there). Pure. */
export function strongEtag(header: string | undefined): string | undefined {
  const value = header?.trim()
  return value && value.startsWith('"') ? value : undefined
}

export interface RangeAnswer {
  status: number
  headers: Record<string, string>
  body: Readable
}

/** One GET of the blob: bytes `start`… (to `end`, inclusive, when given); with If-Range when `ifRange`. Answers 200 or 206. */
export type FetchRange = (range: {start: number; end?: number; ifRange?: string}) => Promise<RangeAnswer>

export interface ReadOptions {
  size: number
  offset?: number
  /** Names the read in errors. */
  what: string
  signal?: AbortSignal
  ranged?: RangedSettings
}

/**
 * The blob's bytes from `offset` to its end. The first request says whether the source serves
 * ranges: a 206 to a part's Range starts the other parts; a 200 (a source, or the storage it
 * redirects to, that ignores Range) is used as it is, as the one stream, when it starts at byte 0.
 */
export async function readBlob(fetch: FetchRange, options: ReadOptions): Promise<Readable> {
  const {size, what} = options
  const offset = options.offset ?? 0
  const state: ReadState = {fetch, size, what, signal: options.signal, resumes: MAX_RESUMES}
  if (!readsInParts(size, offset, options.ranged)) {
    const first = await opened(state, offset > 0 ? {start: offset} : {start: 0}, offset === 0)
    return bytes(single(state, offset, first))
  }
  const partSize = options.ranged!.partSize ?? PART_SIZE
  const parts = planParts(offset, size, partSize)
  const first = await opened(state, parts[0]!, offset === 0)
  if (first.status === 200) return bytes(single(state, 0, first))
  return bytes(inParts(state, parts, first, options.ranged!))
}

interface ReadState {
  fetch: FetchRange
  size: number
  what: string
  signal?: AbortSignal
  /** Resumes left to this opening of the blob. */
  resumes: number
  /** The first answer's strong ETag: every later request is made conditional on it. */
  etag?: string
}

/**
 * Sends a request for `range` (If-Range once an ETag is known) and checks its answer: a 206 must
 * cover exactly the bytes asked for, of a blob of the size the descriptor gives. A 200 is the whole
 * blob: acceptable only when `whole` says nothing has been handed on yet; else RANGE_UNSUPPORTED.
 */
async function opened(state: ReadState, range: {start: number; end?: number}, whole: boolean): Promise<RangeAnswer> {
  const answer = await state.fetch({...range, ...(state.etag ? {ifRange: state.etag} : {})})
  state.etag ??= strongEtag(answer.headers.etag)
  if (answer.status === 200) {
    if (whole) return answer
    answer.body.destroy()
    throw new FerryError(
      'RANGE_UNSUPPORTED',
      `${state.what}: the source answered a request for bytes ${range.start}- with the whole blob; read again from the start`,
      // Reading the blob again from byte 0 works where a range does not.
      {retryable: true},
    )
  }
  const served = parseContentRange(answer.headers['content-range'])
  const end = range.end ?? state.size - 1
  if (!served || served.start !== range.start || served.end !== end || (served.total !== undefined && served.total !== state.size)) {
    answer.body.destroy()
    throw new FerryError(
      'RANGE_UNSUPPORTED',
      `${state.what}: asked for bytes ${range.start}-${end} of ${state.size}, the source sent ${answer.headers['content-range'] ?? 'no Content-Range'}`,
      {retryable: true},
    )
  }
  return answer
}

/**
 * After a failed read: the error to throw, or undefined when the read may continue from where it
 * stopped (a cut or a stall, not a stop, and resumes left).
 */
function resumable(state: ReadState, error: unknown): FerryError | undefined {
  const typed = networkError(error, state.what, state.signal)
  if (state.signal?.aborted || !(typed.code === 'NETWORK' || typed.code === 'TIMEOUT') || state.resumes <= 0) return typed
  state.resumes--
  return undefined
}

function tooMuch(state: ReadState, start: number, end: number): FerryError {
  return new FerryError('SIZE_MISMATCH', `${state.what}: the source sent more than bytes ${start}-${end}`, {retryable: true})
}

/**
 * One stream from `start`, continued after a cut from the last byte handed on. A clean end short
 * of the size is left to the digest verifier, which reports it (SIZE_MISMATCH).
 */
async function* single(state: ReadState, start: number, first: RangeAnswer): AsyncGenerator<Buffer> {
  let position = start
  let answer: RangeAnswer | undefined = first
  for (;;) {
    try {
      answer ??= await opened(state, {start: position}, position === 0)
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        if (position + chunk.length > state.size) throw tooMuch(state, 0, state.size - 1)
        position += chunk.length
        yield chunk
      }
      return
    } catch (error) {
      answer = undefined
      const final = resumable(state, error)
      if (final) throw final
    }
  }
}

/**
 * Parts read by up to `connections` requests at once and handed on in order. A part starts when
 * one before it has been handed on whole, and holds at most its own bytes: memory is bounded by
 * connections × part size per blob, and by the run's part slots over all blobs.
 */
async function* inParts(state: ReadState, parts: Part[], first: RangeAnswer, ranged: RangedSettings): AsyncGenerator<Buffer> {
  const {connections, slots} = ranged
  const reading: Array<{reader: PartReader; slot: boolean}> = [{reader: new PartReader(state, parts[0]!, first), slot: false}]
  let next = 1
  try {
    for (;;) {
      while (reading.length < connections && next < parts.length) {
        // The head part needs no slot: every blob keeps going, with one connection at least.
        const slot = reading.length > 0 && slots !== undefined
        if (slot && !slots.take()) break
        reading.push({reader: new PartReader(state, parts[next++]!), slot})
      }
      const head = reading[0]
      if (!head) return
      yield* head.reader.chunks()
      reading.shift()
      if (head.slot) slots?.give()
    }
  } finally {
    for (const part of reading) {
      part.reader.cancel()
      if (part.slot) slots?.give()
    }
  }
}

/** One part: read into memory as fast as the link gives it, continued after a cut with a Range from where it stopped. */
class PartReader {
  private readonly held: Buffer[] = []
  private position: number
  private done = false
  private failure?: unknown
  private cancelled = false
  private current?: Readable
  private wake?: () => void

  constructor(
    private readonly state: ReadState,
    private readonly part: Part,
    first?: RangeAnswer,
  ) {
    this.position = part.start
    void this.read(first)
  }

  async *chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      const chunk = this.batch()
      if (chunk) {
        yield chunk
        continue
      }
      if (this.failure !== undefined) throw this.failure
      if (this.done) return
      await new Promise<void>((resolve) => (this.wake = resolve))
    }
  }

  /**
   * What is held, up to BATCH bytes as one buffer: a part read ahead is handed on in few large
   * writes, not as the link's small pieces (each one a socket write and a hash call downstream).
   */
  private batch(): Buffer | undefined {
    if (this.held.length < 2) return this.held.shift()
    const taken: Buffer[] = []
    let size = 0
    while (this.held.length > 0 && size < BATCH) {
      const next = this.held.shift()!
      taken.push(next)
      size += next.length
    }
    return taken.length === 1 ? taken[0] : Buffer.concat(taken, size)
  }

  cancel(): void {
    this.cancelled = true
    this.current?.destroy()
  }

  private notify(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  private async read(first?: RangeAnswer): Promise<void> {
    let answer = first
    const {state, part} = this
    for (;;) {
      try {
        // A part's 200 would be the whole blob: never glued in here.
        answer ??= await opened(state, {start: this.position, end: part.end}, false)
        this.current = answer.body
        if (this.cancelled) return void answer.body.destroy()
        for await (const chunk of answer.body as AsyncIterable<Buffer>) {
          if (this.position + chunk.length > part.end + 1) throw tooMuch(state, part.start, part.end)
          this.position += chunk.length
          this.held.push(chunk)
          this.notify()
        }
        if (this.position <= part.end) {
          throw new FerryError('NETWORK', `${state.what}: bytes ${part.start}-${part.end} ended at ${this.position}`, {retryable: true})
        }
        this.done = true
        return this.notify()
      } catch (error) {
        answer = undefined
        if (this.cancelled) return
        const final = resumable(state, error)
        if (final) {
          this.failure = final
          return this.notify()
        }
      }
    }
  }
}

/** A byte stream of the chunks; destroying it stops the reads and releases their connections. */
function bytes(chunks: AsyncGenerator<Buffer>): Readable {
  return Readable.from(chunks, {objectMode: false})
}
