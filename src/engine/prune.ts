/**
 * --prune: after the copies, delete the destination tags inside the rules' scope that the source no
 * longer lists. Reads everything first (destination tags, their digests, kept indexes' children),
 * decides (prune-plan.ts), checks the guards, and only then deletes, so a refusal or --max-deletes
 * deletes nothing at all. A source outage must never empty a mirror: prune does not run unless every
 * rule was listed to its end, and never empties a repository's scope.
 */
import {describeError, FerryError, RegistryError} from '../errors.js'
import type {SourceListing} from '../pipeline/generate.js'
import {formatRepository} from '../reference.js'
import {listTags} from '../registry/catalog.js'
import {deleteManifest, getManifest, headManifest} from '../registry/manifests.js'
import {parseManifest} from '../registry/media-types.js'
import type {KeptTag, PrunedTag, PruneReport} from '../report/prune-report.js'
import {registryOf, repositoryOf} from '../report/reference-parts.js'
import type {GenerateFailure, JobResult} from '../report/summary.js'
import {mapLimit} from '../transfer/map-limit.js'
import {goneTags, planRepository, selectedAtSource, type ResolvedTag} from './prune-plan.js'
import type {PruneSettings} from './options.js'
import type {EngineSession} from './session.js'

/** --max-deletes when not given: a mirror losing more tags than this in one run is more likely a mistake than a release cycle. */
export const DEFAULT_MAX_DELETES = 20

/** What the run knows when its copies are done. */
export interface PruneInput {
  listings: readonly SourceListing[]
  results: readonly JobResult[]
  generateFailures: readonly GenerateFailure[]
  /** Every rule was read and listed to its end, and no stop came. */
  listedAll: boolean
}

interface Repository {
  registry: string
  repository: string
  listings: SourceListing[]
}

interface Planned extends Repository {
  deletes: {digest: string; tags: string[]}[]
}

export async function pruneDestinations(session: EngineSession, input: PruneInput, settings: PruneSettings): Promise<PruneReport> {
  const dryRun = session.mode === 'dry run'
  const report: PruneReport = {dryRun, pruned: [], kept: []}
  const stop = (reason: string): PruneReport => {
    session.logger.warn(`prune: ${reason}`)
    return {...report, stopped: reason}
  }
  const refusal = listingRefusal(input)
  if (refusal) return stop(`not run: ${refusal}; nothing deleted`)

  const failedAt = new Set(input.results.filter((result) => result.status === 'failed').map((result) => repositoryOfResult(result.destination)))
  const planned: Planned[] = []
  for (const target of byDestination(input.listings)) {
    const key = formatRepository(target)
    // A job that failed leaves its repository as it was: what it should hold is not settled.
    if (failedAt.has(key)) {
      session.logger.warn(`prune: ${key} left as it is: a job copying to it failed`)
      continue
    }
    try {
      const plan = await planDestination(session, target, settings)
      if (plan === 'empty source') {
        return stop(
          `not run: the source listing for ${key} selects no tags while the destination has some; a source outage must not empty a mirror (delete by hand if it is meant); nothing deleted`,
        )
      }
      for (const {attached, ...kept} of plan.kept) {
        report.kept.push(kept)
        // A signature staying with its image is prune working as meant; a tag it could not remove is news.
        const line = `prune: kept ${kept.repository}:${kept.tag} (${kept.digest}), gone from the source: ${kept.reason}`
        if (attached) session.logger.info(line)
        else session.logger.warn(line)
      }
      if (plan.deletes.length > 0) planned.push({...target, deletes: plan.deletes})
    } catch (error) {
      if (session.signal?.aborted) return stop('stopped before deleting anything')
      return stop(`not run: ${key}: ${session.redactor.redact(describeError(error))}; nothing deleted`)
    }
  }

  const count = planned.reduce((total, target) => total + target.deletes.reduce((sum, each) => sum + each.tags.length, 0), 0)
  const maxDeletes = settings.maxDeletes ?? DEFAULT_MAX_DELETES
  if (count > maxDeletes) {
    if (dryRun) for (const target of planned) logPlanned(session, target)
    return stop(`${count} tags to delete, more than --max-deletes ${maxDeletes}: nothing deleted; see them with --dry-run and raise --max-deletes to go on`)
  }
  if (dryRun) {
    for (const target of planned) report.pruned.push(...logPlanned(session, target))
    return report
  }
  const refusing = new Set<string>()
  for (const target of planned) {
    for (const {digest, tags} of target.deletes) {
      const gone = tags.map((tag): PrunedTag => ({repository: formatRepository(target), tag, digest}))
      if (refusing.has(target.registry)) {
        report.kept.push(...gone.map((tag) => ({...tag, reason: `${target.registry} refuses deletes`})))
        continue
      }
      try {
        await removeTags(session, target, digest, tags, settings)
      } catch (error) {
        if (isRefusal(error)) {
          // Said once per registry; the run goes on, and the tags are in the report as kept.
          refusing.add(target.registry)
          session.logger.warn(
            `prune: ${target.registry} refuses deletes (${(error as RegistryError).status ?? ''} ${errorCodeOf(error)}): nothing pruned there; Distribution deletes with REGISTRY_STORAGE_DELETE_ENABLED=true`,
          )
          report.kept.push(...gone.map((tag) => ({...tag, reason: `${target.registry} refuses deletes`})))
          continue
        }
        const reason = `deleting ${formatRepository(target)}@${digest} (${tags.join(', ')}) failed: ${session.redactor.redact(describeError(error))}; the rest not deleted`
        return stop(reason)
      }
      for (const tag of gone) {
        report.pruned.push(tag)
        session.logger.info(`pruned ${tag.repository}:${tag.tag} (${tag.digest})`)
      }
    }
  }
  if (report.pruned.length > 0 || report.kept.length > 0) {
    session.logger.info(`prune: ${report.pruned.length} tag${report.pruned.length === 1 ? '' : 's'} deleted, ${report.kept.length} gone from the source kept`)
  }
  return report
}

/** Why prune must not run at all, or undefined: every rule listed completely. */
function listingRefusal(input: PruneInput): string | undefined {
  const incomplete = input.listings.find((listing) => !listing.complete)
  if (incomplete) return `the source listing of rule ${incomplete.rules[0]!.text} failed`
  // An empty source repository (NO_TAGS) is weighed per destination repository below.
  const failure = input.generateFailures.find((each) => each.code !== 'NO_TAGS')
  if (failure) return `rule ${failure.rule} failed (${failure.code})`
  if (!input.listedAll) return 'the rules were not all listed to the end'
  return undefined
}

/** Listings per destination repository: a group of rules with one source writes to each member's destination. */
function byDestination(listings: readonly SourceListing[]): Repository[] {
  const targets = new Map<string, Repository>()
  for (const listing of listings) {
    for (const rule of listing.rules) {
      const key = formatRepository(rule.destination)
      const target = targets.get(key) ?? {registry: rule.destination.registry, repository: rule.destination.repository, listings: []}
      target.listings.push(listing)
      targets.set(key, target)
    }
  }
  return [...targets.values()]
}

async function planDestination(
  session: EngineSession,
  target: Repository,
  settings: PruneSettings,
): Promise<'empty source' | {deletes: Planned['deletes']; kept: (KeptTag & {attached?: boolean})[]}> {
  const {client} = session.clients.get(target.registry, target.repository)
  const signal = session.signal
  const listed = await destinationTags(session, target)
  const gone = new Set(goneTags(listed, target.listings))
  if (selectedAtSource(target.listings) === 0 && listed.some((tag) => target.listings.some((listing) => listing.inScope(tag)))) return 'empty source'
  if (gone.size === 0) return {deletes: [], kept: []}
  // Every tag's digest, kept ones too: a delete by digest takes every tag that shares it.
  const heads = await mapLimit(listed, session.routines, async (tag) => ({tag, head: await headManifest(client, target.repository, tag, {signal})}))
  const repository = formatRepository(target)
  const resolved: (ResolvedTag & {mediaType: string})[] = []
  const unresolved: KeptTag[] = []
  for (const {tag, head} of heads) {
    if (head) resolved.push({tag, digest: head.digest, mediaType: head.mediaType})
    else if (gone.has(tag)) unresolved.push({repository, tag, digest: '', reason: 'the registry gave no digest for it'})
    // Deleted meanwhile, or no digest: a kept tag whose digest is unknown could share a candidate's.
    else if (!settings.removeTag)
      return {deletes: [], kept: [...gone].map((each) => ({repository, tag: each, digest: '', reason: `tag ${tag} gave no digest`}))}
  }
  const children = new Map<string, string>()
  if (!settings.removeTag) {
    const indexes = resolved.filter((each) => !gone.has(each.tag) && /index|manifest\.list/.test(each.mediaType))
    await mapLimit(indexes, session.routines, async (index) => {
      const fetched = await getManifest(client, target.repository, index.digest, {signal})
      const parsed = parseManifest(fetched.bytes, fetched.mediaType, `${repository}:${index.tag}`)
      if (parsed.kind === 'index') for (const child of parsed.manifests) children.set(child.digest, index.tag)
    })
  }
  const plan = planRepository({tags: resolved, gone, children, byTag: !!settings.removeTag})
  return {deletes: plan.deletes, kept: [...unresolved, ...plan.kept.map((kept) => ({repository, ...kept}))]}
}

/** Every destination tag; a repository that does not exist has none. */
async function destinationTags(session: EngineSession, target: Repository): Promise<string[]> {
  const {client} = session.clients.get(target.registry, target.repository)
  const tags: string[] = []
  try {
    for await (const tag of listTags(client, target.repository, {signal: session.signal})) if (typeof tag === 'string') tags.push(tag)
  } catch (error) {
    if (error instanceof RegistryError && error.status === 404) return []
    throw error
  }
  return tags
}

async function removeTags(session: EngineSession, target: Repository, digest: string, tags: string[], settings: PruneSettings): Promise<void> {
  if (settings.removeTag) {
    for (const tag of tags) await settings.removeTag(target.registry, target.repository, tag, digest, session.signal)
    return
  }
  const {client} = session.clients.get(target.registry, target.repository)
  await deleteManifest(client, target.repository, digest, {signal: session.signal})
}

function logPlanned(session: EngineSession, target: Planned): PrunedTag[] {
  const tags = target.deletes.flatMap(({digest, tags}) => tags.map((tag) => ({repository: formatRepository(target), tag, digest})))
  for (const tag of tags) session.logger.info(`would prune ${tag.repository}:${tag.tag} (${tag.digest})`)
  return tags
}

/** A registry that does not delete at all: 405, or Distribution's UNSUPPORTED. */
function isRefusal(error: unknown): boolean {
  return FerryError.is(error) && ((error as RegistryError).status === 405 || error.code === 'UNSUPPORTED')
}

function errorCodeOf(error: unknown): string {
  return FerryError.is(error) ? error.code : 'INTERNAL'
}

/** `registry/repository` of a result's destination (`registry/repository:tag` or `@digest`). */
function repositoryOfResult(reference: string): string {
  return `${registryOf(reference)}/${repositoryOf(reference)}`
}
