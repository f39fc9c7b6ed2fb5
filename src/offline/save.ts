/**
 * `ferry save`: the source side of transfer rules into one OCI image layout (a folder or a tar).
 * The rule's destination is not used: every image goes to the layout under its full source
 * reference, so a rule may leave its destination empty.
 */
import {rm} from 'node:fs/promises'

import type {Rule} from '../config/rules.js'
import type {TransferInputs} from '../inputs.js'
import {describeError} from '../errors.js'
import {packLayout} from '../layout/archive.js'
import {buildLock} from '../lock.js'
import {ImageLayout, LAYOUT_REGISTRY, layoutEndpoints} from '../layout/layout.js'
import {skopeoRefProblem} from '../layout/ref-name.js'
import {silentLogger} from '../report/logger.js'
import type {EngineSettings} from '../engine/options.js'
import {runTransfer, type TransferReport} from '../engine/run.js'
import {readLayoutLock, savedResult, writeLayoutLock} from './layout-lock.js'
import type {OutputTarget} from './output.js'
import {plannedImages, type Plan} from './plan.js'
import {platformSources} from './platform.js'
import type {Platform} from '../select/platforms.js'

/**
 * Lets a rule with an empty destination parse (the rule file format needs a default for it);
 * reserved (RFC 2606), never contacted: save ignores every destination.
 */
export const IGNORED_DESTINATION = 'ferry-save.invalid'

/** What a save, load or backup takes of the engine's settings (engine/options.ts documents each). */
export type OfflineSettings = Pick<
  EngineSettings,
  | 'routines'
  | 'retry'
  | 'qps'
  | 'chunkSize'
  | 'overwriteTags'
  | 'tagFilter'
  | 'logger'
  | 'observer'
  | 'signal'
  | 'idleTimeoutMs'
  | 'retryBaseMs'
  | 'frozenLock'
  | 'referrers'
  | 'referrerArtifactTypes'
>

/** A save of the rules' sources; the rule and security files are read by the caller (offline-files.ts). */
export interface SaveLayoutOptions extends OfflineSettings, TransferInputs {
  /** Where the layout goes: a folder, or a tar built from a staging folder (`outputTarget`). */
  target: OutputTarget
  /** Of a multi-arch image, only this platform's manifest. */
  platform?: Platform
  /** Of a multi-arch image, a new index of only these platforms (the engine's subset index, as transfer --platform). */
  platforms?: EngineSettings['platforms']
}

/** A rule whose destination is the layout, under the source's own registry and repository. */
export function layoutRule(rule: Rule): Rule {
  const {source} = rule
  const destination: Rule['destination'] = {registry: LAYOUT_REGISTRY, repository: `${source.registry}/${source.repository}`}
  if (source.digest) destination.digest = source.digest
  return {...rule, destination}
}

export async function saveLayout(options: SaveLayoutOptions): Promise<TransferReport> {
  const {target, platform, rules, ...settings} = options
  const logger = options.logger ?? silentLogger
  const layout = await ImageLayout.forWriting(target.dir)
  layout.onSaved = (refName) => {
    const problem = skopeoRefProblem(refName)
    if (problem) logger.warn(`warning: ${problem}`)
  }
  const previous = await readLayoutLock(target.dir).catch((error: unknown) => {
    logger.warn(`warning: ${describeError(error)}; it is written anew from this save`)
    return undefined
  })
  const report = await runTransfer({
    ...settings,
    rules: rules.map(layoutRule),
    endpoints: platform
      ? (registries) => layoutEndpoints(layout, 'destination')(platformSources(platform)(registries))
      : layoutEndpoints(layout, 'destination'),
  })
  // The layout keeps what earlier saves put in it, and so does its lock.
  await writeLayoutLock(target.dir, buildLock(report.results.map(savedResult), previous, {keepUnseen: true}))
  await finishArchive(target, report, logger)
  return report
}

/** For a tar output: packs the staging folder, and removes it unless a failed job will want it again. */
export async function finishArchive(target: OutputTarget, report: TransferReport, logger: NonNullable<OfflineSettings['logger']>): Promise<void> {
  if (!target.archive) return
  await packLayout(target.dir, target.archive.file, target.archive.compression)
  if (report.summary.failed === 0 && report.summary.generateFailed === 0) await rm(target.dir, {recursive: true, force: true})
  else logger.warn(`warning: ${target.archive.file} holds what was saved; ${target.dir} is kept so a re-run adds only what is missing`)
}

/** `--dryRun`: the images the rules name (tags listed at the sources), nothing written. */
export async function planSaveLayout(options: OfflineSettings & Omit<TransferInputs, 'ruleWarnings'>): Promise<Plan> {
  const plan = await plannedImages(options.rules.map(layoutRule), options.credentials, options)
  for (const error of options.ruleErrors) plan.failures.unshift({rule: error.file ?? 'rule', code: error.code, message: error.message})
  return plan
}
