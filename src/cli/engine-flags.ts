import {Flags, type Interfaces} from '@oclif/core'

import {parseQps} from '../config/qps.js'
import {parseSize} from '../config/size.js'
import {DEFAULT_MAX_DELETES} from '../engine/prune.js'
import {LOG_FORMATS} from '../report/log-line.js'
import {DEFAULT_BLOB_CONNECTIONS, PART_SIZE, RANGED_THRESHOLD, RUN_PART_SLOTS} from '../registry/ranged-reader.js'
import {tagFilter} from '../select/filters.js'
import type {EngineSettings} from '../engine/options.js'
import {ConfigError} from '../errors.js'
import {quote} from '../names.js'
import {isMediaType} from '../registry/referrers.js'
import type {UserSettings} from '../settings.js'

const MiB = 1024 * 1024

/** Flags image-transfer users already type are listed under this heading in --help. */
export const IMAGE_TRANSFER = 'IMAGE-TRANSFER (same names, meanings and defaults)'

/**
 * Requests per second: a fraction, a whole number or 0 (unlimited). Read as text and checked by
 * `flagQps` with the other values, so a bad one is one line naming the flag (oclif's own parse
 * errors wrap over several).
 */
export const qpsFlag = Flags.custom<string>({default: '0', helpValue: '<value>'})

/** --qps's value: undefined for unlimited; a bad value is a ConfigError naming the flag. */
export function flagQps(text: string): number | undefined {
  return parseQps(text, '--qps') || undefined
}

/** The flags every command that runs the copy engine takes, with image-transfer's names. */
export const engineFlags = {
  securityFile: Flags.string({
    description:
      "security file: credentials per registry or registry/namespace (image-syncer's and image-migrator's auth file too, as --auth); registries it gives no credentials fall back to docker's config.json",
    aliases: ['auth'],
    helpGroup: IMAGE_TRANSFER,
  }),
  routines: Flags.integer({
    description: 'images copied at once (and repositories listed at once); --workers and --proc are the same flag',
    aliases: ['workers', 'proc'],
    default: 5,
    min: 1,
    max: 1000,
    helpGroup: IMAGE_TRANSFER,
  }),
  retry: Flags.integer({
    description: 'attempts after the first for a failed job, with backoff; --retries is the same flag',
    aliases: ['retries'],
    default: 2,
    min: 0,
    max: 100,
    helpGroup: IMAGE_TRANSFER,
  }),
  qps: qpsFlag({
    description:
      "at most this many requests per second to all registries together, evenly paced; fractions too (0.5: one every 2 s); 0 = unlimited. image-transfer's --qps never took effect; ferry's does",
    helpGroup: IMAGE_TRANSFER,
  }),
  'pull-reserve': Flags.integer({
    description:
      "pulls to leave unspent under a registry's pull limit (Docker Hub's ratelimit-remaining): at that many left, a one-shot run stops pulling from it and ends its other jobs with one line; a standing mirror waits for the window",
    aliases: ['pullReserve'],
    default: 0,
    min: 0,
  }),
  'tag-exist-overridden': Flags.boolean({
    description:
      'move a destination tag (for save and backup: a ref in the layout) that already exists to the new digest (--tag-exist-overridden=false: never; such jobs are skipped as "tag exists")',
    default: true,
    allowNo: true,
    helpGroup: IMAGE_TRANSFER,
  }),
  'include-tags': Flags.string({
    description: 'only the listed tags matching this regular expression (searched, as RegExp.test; repeatable)',
    aliases: ['includeTags'],
    multiple: true,
  }),
  'exclude-tags': Flags.string({description: 'leave out listed tags matching this regular expression (repeatable)', aliases: ['excludeTags'], multiple: true}),
  referrers: Flags.boolean({
    description:
      "copy each image's referrers with it: signatures, attestations, SBOMs (OCI 1.1 referrers, the sha256-<hex> fallback index, cosign's .sig/.att/.sbom tags), recursively; --referrers=false: images only (docs/referrers.md)",
    default: true,
    allowNo: true,
  }),
  'referrers-artifact-type': Flags.string({
    description: 'only referrers of this artifact type (repeatable), e.g. application/vnd.dev.cosign.artifact.sig.v1+json for cosign signatures',
    aliases: ['referrersArtifactType'],
    multiple: true,
  }),
  'chunk-size': Flags.string({description: 'upload blobs in chunks of this size (e.g. 16MiB) instead of one streamed PUT', aliases: ['chunkSize']}),
  'blob-connections': Flags.integer({
    description: `read a blob of ${RANGED_THRESHOLD / MiB} MiB or more from a registry over this many connections at once (Range requests on ${PART_SIZE / MiB} MiB parts, in order; memory: N × ${PART_SIZE / MiB} MiB per blob, and ${RUN_PART_SLOTS} parts beyond each blob's first over the whole run); 1 = one stream per blob`,
    aliases: ['blobConnections'],
    default: DEFAULT_BLOB_CONNECTIONS,
    min: 1,
    max: 32,
  }),
  'include-nondistributable': Flags.boolean({
    description:
      'also copy foreign / non-distributable layers (Windows base layers), read from the source registry; by default only the manifest naming them is copied, as docker and skopeo do',
    aliases: ['includeNondistributable'],
    default: false,
  }),
  'resume-dir': Flags.string({
    description:
      'folder where uploads of large blobs in progress are kept, so that the next run goes on with them instead of sending them again (default: FERRY_RESUME_DIR, else $XDG_CACHE_HOME/ferry/uploads)',
    aliases: ['resumeDir'],
  }),
  'limit-rate': Flags.string({
    description: 'at most this many blob bytes per second for the whole run, all streams together (e.g. 50MiB), like rsync --bwlimit',
    aliases: ['limitRate'],
  }),
  log: Flags.string({description: 'also append every line to this log file'}),
  quiet: Flags.boolean({description: 'no progress lines; failures and the summary only', default: false, exclusive: ['verbose']}),
  verbose: Flags.boolean({description: 'also a line per blob (uploaded, mounted or present) and per retry, and every job line on a terminal', default: false}),
  report: Flags.string({
    description: 'write a report of every job to this file when the run ends: FILE.json (the document --json prints) or FILE.html (one self-contained page)',
  }),
  'log-format': Flags.string({
    description:
      'text, or json: every log line (stderr and --log) one JSON object with time, level, message and the registry, repository, tag, digest, code it is about',
    aliases: ['logFormat'],
    options: [...LOG_FORMATS],
    default: 'text',
  }),
  debug: Flags.boolean({
    description: 'also a line per registry request: method, URL, status, time (credentials and signed URL values blanked)',
    default: false,
  }),
}

/** --prune, for the commands that write to registries from rules (transfer, migrate); docs/prune.md. */
export const pruneFlags = {
  prune: Flags.boolean({
    description:
      "after the copies, delete the destination tags in the rules' scope that the source no longer has (with --dry-run: list them); never when a source listing failed (docs/prune.md)",
    default: false,
  }),
  'max-deletes': Flags.integer({
    description: `with --prune: delete nothing, and fail, when more tags than this would go (default ${DEFAULT_MAX_DELETES})`,
    aliases: ['maxDeletes'],
    default: DEFAULT_MAX_DELETES,
    min: 1,
  }),
}

/** The settings of the parsed --prune flags. */
export function pruneSettings(flags: {prune?: boolean; 'max-deletes'?: number}): Pick<UserSettings, 'prune' | 'maxDeletes'> {
  return flags.prune ? {prune: true, maxDeletes: flags['max-deletes']} : {}
}

/** The lock file's flags (transfer, save, load, diff): docs/lock-file.md. */
export const lockFlags = {
  'lock-file': Flags.string({
    description:
      'after the run, write every source reference → its digest → the destination references holding it to this file (YAML; JSON when it ends .json), sorted, with the referrers copied alongside; a failed job keeps its last good digest. A standing mirror writes it after each run. With --frozen: the lock to copy',
    aliases: ['lockFile'],
  }),
  frozen: Flags.boolean({
    description:
      'copy exactly the digests the --lock-file names: a tag that moved since is copied at its locked digest and reported as drift; a tag not in the lock, or a locked digest the source lost, fails its job',
    default: false,
  }),
}

/** The engine flags a command offers, by name: one list, not a destructuring and a flags object that repeat it. */
export function engineFlagsNamed<K extends keyof typeof engineFlags>(...names: K[]): Pick<typeof engineFlags, K> {
  return Object.fromEntries(names.map((name) => [name, engineFlags[name]])) as Pick<typeof engineFlags, K>
}

type EngineFlagsParsed = Interfaces.InferredFlags<typeof engineFlags>

/** The parsed values of `engineFlags` that `engineSettings` reads (a command may leave out those without a default). */
export type EngineFlagValues = Pick<EngineFlagsParsed, 'routines' | 'retry' | 'qps'> &
  Partial<
    Pick<
      EngineFlagsParsed,
      | 'tag-exist-overridden'
      | 'chunk-size'
      | 'limit-rate'
      | 'include-tags'
      | 'exclude-tags'
      | 'pull-reserve'
      | 'blob-connections'
      | 'resume-dir'
      | 'include-nondistributable'
      | 'referrers'
      | 'referrers-artifact-type'
    >
  >

/** The settings of the parsed flags (src/settings.ts documents each); a bad size is a ConfigError naming its flag. */
export function engineSettings(
  flags: EngineFlagValues,
): Pick<
  UserSettings,
  | 'routines'
  | 'retry'
  | 'qps'
  | 'chunkSize'
  | 'bytesPerSecond'
  | 'overwriteTags'
  | 'tagFilter'
  | 'pullReserve'
  | 'blobConnections'
  | 'includeNondistributable'
  | 'referrers'
  | 'referrerArtifactTypes'
> &
  Pick<EngineSettings, 'resumeDir'> {
  return {
    tagFilter: tagFilter({include: flags['include-tags'], exclude: flags['exclude-tags']}),
    routines: flags.routines,
    retry: flags.retry,
    qps: flagQps(flags.qps),
    chunkSize: flags['chunk-size'] ? parseSize(flags['chunk-size'], '--chunk-size') : undefined,
    bytesPerSecond: flags['limit-rate'] ? parseSize(flags['limit-rate'], '--limit-rate') : undefined,
    overwriteTags: flags['tag-exist-overridden'],
    ...(flags['pull-reserve'] ? {pullReserve: flags['pull-reserve']} : {}),
    blobConnections: flags['blob-connections'],
    ...(flags['resume-dir'] ? {resumeDir: flags['resume-dir']} : {}),
    ...whatTravels(flags),
  }
}

/** What travels with an image (--include-nondistributable, --referrers, --referrers-artifact-type). */
function whatTravels(
  flags: Partial<Pick<EngineFlagsParsed, 'include-nondistributable' | 'referrers' | 'referrers-artifact-type'>>,
): Pick<UserSettings, 'includeNondistributable' | 'referrers' | 'referrerArtifactTypes'> {
  return {
    ...(flags['include-nondistributable'] ? {includeNondistributable: true} : {}),
    ...(flags.referrers === false ? {referrers: false} : {}),
    ...(flags['referrers-artifact-type']?.length ? {referrerArtifactTypes: flags['referrers-artifact-type'].map(artifactType)} : {}),
  }
}

/** A --referrers-artifact-type value: a media type, or one line naming the flag. */
function artifactType(text: string): string {
  if (isMediaType(text)) return text
  throw new ConfigError(`--referrers-artifact-type ${quote(text)} is not a media type (type/subtype, e.g. application/vnd.dev.cosign.artifact.sig.v1+json)`)
}
