/**
 * Limits on registry answers read into memory. Blobs are streamed and never sit in memory, so
 * they have none; everything else a registry (or a token server) sends is capped while it is
 * read, so a hostile or broken one cannot grow ferry's memory with a body that never ends.
 */
import {FerryError} from '../errors.js'

const KiB = 1024
const MiB = 1024 * KiB

/** What a body may hold, and its name in the one-line error (`the manifest limit`). */
export interface BodyLimit {
  bytes: number
  name: string
}

/** The OCI distribution spec: registries SHOULD accept manifests of at least 4 MiB and MAY refuse larger ones. */
export const MANIFEST_LIMIT = 4 * MiB

/**
 * One page of tags or repositories. A page of 1,000 names (what ferry asks for) is under 300 KB
 * even at the grammar's longest names; registries that ignore `n` and answer with every tag at
 * once still get room for about 100,000 long tags.
 */
export const LISTING_PAGE_LIMIT = 16 * MiB

/** A token answer is a JWT and a few fields: a few KB, so 1 MiB is far above any real one. */
export const TOKEN_LIMIT = 1 * MiB

/** Answers read only for their status and headers (a push's 201, an upload's 202): nothing in them is used. */
export const HEADERS_ONLY_LIMIT = 1 * MiB

/** Of an error answer only the start is read: room for an OCI error body; the rest is never read. */
export const ERROR_BODY_LIMIT = 64 * KiB

/** `4 MiB`, `64 KiB`, `1000 bytes`. Pure. */
export function describeSize(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`
  return `${bytes} bytes`
}

/**
 * The one-line refusal of a body over its limit; `sender` is `registry HOST` or its token server; `announced` is a Content-Length that already
 * said so (nothing was read). Not retryable: the same registry sends the same body again.
 */
export function bodyTooLarge(what: string, sender: string, limit: BodyLimit, announced?: number): FerryError {
  const sent = announced === undefined ? 'sent more than' : `announced ${describeSize(announced)}, more than`
  return new FerryError('BODY_TOO_LARGE', `${what}: ${sender} ${sent} ${describeSize(limit.bytes)} (${limit.name}); refused`)
}
