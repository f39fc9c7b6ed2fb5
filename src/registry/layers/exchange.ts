import type {Readable} from 'node:stream'

import {ERROR_BODY_LIMIT} from '../body-limits.js'
import type {RegistryRequest} from '../request.js'

/**
 * One attempt of a request on its way down the layers. Each layer may add to it (the auth layer
 * sets `authorization`) and hands it to the next; none changes the caller's request.
 */
export interface Outgoing {
  request: RegistryRequest
  /** Absolute, resolved by the client. */
  url: string
  /** The registry's own origin: only there do credentials go. */
  sameOrigin: boolean
  /** The Authorization header of this attempt. */
  authorization?: string
  /** The header as of now, which the transport sends instead: still fresh after the rate limit's wait. */
  currentAuthorization?: () => Promise<string | undefined>
}

/** What an attempt was answered, whatever the status: statuses become failures in the answer layer. */
export interface Answer {
  status: number
  /** Lower-case names (`plainHeaders`). */
  headers: Record<string, string>
  /** Buffer (empty for HEAD) or, for a streamed response, the response itself. */
  body: Buffer | Readable | undefined
  /** The URL that answered, after redirects. */
  url: string
}

/** Sends one attempt: the transport at the bottom, a layer's wrapping of it above. */
export type Send = (outgoing: Outgoing) => Promise<Answer>

/** One concern of the registry client (rate limit, auth, retry) around the layers below it. */
export type Layer = (next: Send) => Send

/** `base` wrapped in `layers`, innermost first: the last one listed sees a request first. */
export function compose(base: Send, ...layers: Layer[]): Send {
  return layers.reduce((send, layer) => layer(send), base)
}

/** Reads at most the error body limit; a stream is destroyed after. Never throws. */
export async function readLimited(data: unknown): Promise<Buffer | undefined> {
  if (data === undefined || data === null) return undefined
  if (Buffer.isBuffer(data)) return data.subarray(0, ERROR_BODY_LIMIT)
  if (data instanceof ArrayBuffer) return Buffer.from(data).subarray(0, ERROR_BODY_LIMIT)
  const stream = data as Readable
  if (typeof stream.on !== 'function') return undefined
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of stream) {
      if (size < ERROR_BODY_LIMIT) chunks.push(chunk as Buffer)
      size += (chunk as Buffer).length
      if (size >= ERROR_BODY_LIMIT) break
    }
  } catch {
    // The error status is what matters; a body cut short only loses detail.
  } finally {
    stream.destroy()
  }
  return Buffer.concat(chunks)
}

/** An answer that is not passed on: its body is read (bounded) so the connection is freed. */
export async function drain(data: unknown): Promise<void> {
  await readLimited(data)
}
