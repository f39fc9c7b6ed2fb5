/**
 * The settings a user chooses for a run (flags, schedule.yaml, library options), each field
 * declared and documented here once. Beside rule.ts, the engine's other input: low enough that
 * config/ (which parses schedule.yaml) and transfer/ (whose copy reads a few of them) type their
 * fields from here. engine/options.ts builds the engine's options from these. Types only.
 */
import type {Lock} from './lock.js'
import type {Platform} from './select/platforms.js'
import type {TagSelection} from './select/tags.js'

/** Which images, and what a destination that already has something gets. */
export interface Selection {
  /** Which listed tags to copy (--includeTags/--excludeTags); tags a rule names are always copied. */
  tagFilter?: (tag: string) => boolean
  /** --semver/--latest (and include/exclude, for library callers), applied after tagFilter and before a rule's own. */
  tagSelection?: TagSelection
  /** --platform: copy only these children of a multi-platform index, as a new index; a rule's (a job's) `platform` wins. */
  platforms?: Platform[]
  /**
   * image-transfer's --tag-exist-overridden (default true). False: a destination tag that already
   * exists is never moved, even to a different digest; the job is skipped ("tag exists").
   */
  overwriteTags?: boolean
  /** --deep: a tag at the same digest has its child manifests and blobs checked and repaired. */
  deep?: boolean
  /**
   * --frozen: each source tag is copied at the digest this lock names (by digest, to the same
   * destination tags), a tag that moved since is reported as drift, and a tag the lock does not
   * name fails its job. The command reads the lock from --lock-file.
   */
  frozenLock?: Lock
  /**
   * --include-nondistributable: foreign / non-distributable layers (Windows base layers) are
   * copied from the source registry like any blob (and verify checks them); by default only the
   * manifest naming them is copied, as docker and skopeo do.
   */
  includeNondistributable?: boolean
  /**
   * --referrers (default true): an image's referrers (signatures, attestations, SBOMs: manifests
   * whose `subject` names it, and cosign's `sha256-<hex>.sig`/`.att`/`.sbom` tags) travel with it,
   * and theirs with them; tags of those schemes are then left out of tag listings. False: images only.
   */
  referrers?: boolean
  /** --referrers-artifact-type: only referrers of these artifact types (cosign's tags count as cosign's OCI 1.1 types); all when absent. */
  referrerArtifactTypes?: string[]
}

/** How much at once, and how fast. */
export interface Limits {
  /** Jobs copied at once (and tag listings at once). */
  routines?: number
  /** Requests per second to all registries together; unlimited when absent. */
  qps?: number
  /** Blob bytes per second for the whole run, over all streams (--limitRate). */
  bytesPerSecond?: number
  /** Upload blobs in PATCH chunks of this many bytes instead of one streamed PUT. */
  chunkSize?: number
  /**
   * --blob-connections: a blob of 16 MiB or more is read from a registry source over this many
   * connections at once (Range requests on 4 MiB parts, put back in order); 1 reads each blob as
   * one stream. Default 12 (DEFAULT_BLOB_CONNECTIONS). Memory: connections × 4 MiB per blob read at once.
   */
  blobConnections?: number
  /** A request or blob stream idle this long fails (and is retried). */
  idleTimeoutMs?: number
  /**
   * --pull-reserve: pulls left unspent under a registry's stated pull limit (Docker Hub's
   * `ratelimit-remaining`). Once only this many are left, a one-shot run stops pulling from that
   * registry (its jobs end with one line) and a standing mirror waits for the window. Default 0.
   */
  pullReserve?: number
}

/** Attempts of a failed job. */
export interface JobRetry {
  /** Attempts after the first for a failed job. */
  retries?: number
  /** Base delay between job attempts (tests shorten it). */
  baseMs?: number
}

/** The settings a user chooses, flat, under the names of `runTransfer()` and the flags. */
export interface UserSettings extends Selection, Limits {
  /** `JobRetry.retries` (--retry). */
  retry?: JobRetry['retries']
  /** `JobRetry.baseMs`. */
  retryBaseMs?: JobRetry['baseMs']
  /** --dryRun: plan every job (status 'planned' or 'skipped') and write nothing anywhere. */
  dryRun?: boolean
  /**
   * --prune: after the copies, delete the destination tags in the rules' scope that the source no
   * longer has (docs/prune.md); with dryRun, only list them.
   */
  prune?: boolean
  /** --max-deletes: with prune, delete nothing when more tags than this would go. Default 20. */
  maxDeletes?: number
}
