/**
 * `ferry save`: the source side of transfer rules into one OCI image layout (a folder or a tar).
 * The rule's destination is not used: every image goes to the layout under its full source
 * reference, so a rule may leave its destination empty.
 */
import {rm} from 'node:fs/promises'

import type {Rule} from '../config/rules.js'
import {loadTransferInputs} from '../inputs.js'
import {packLayout, type Compression} from '../layout/archive.js'
import {ImageLayout, LAYOUT_REGISTRY, layoutEndpoints} from '../layout/layout.js'
import {skopeoRefProblem} from '../layout/ref-name.js'
import {silentLogger} from '../report/logger.js'
import {runTransfer, type EngineOptions, type TransferReport} from '../engine/run.js'
import {outputTarget} from './output.js'
import {plannedImages, type Plan} from './plan.js'
import {platformSources} from './platform.js'
import {parsePlatform} from '../select/platforms.js'

/**
 * Lets a rule with an empty destination parse (the rule file format needs a default for it);
 * reserved (RFC 2606), never contacted: save ignores every destination.
 */
export const IGNORED_DESTINATION = 'ferry-save.invalid'

export type EngineSettings = Pick<
  EngineOptions,
  'routines' | 'retry' | 'qps' | 'chunkSize' | 'overwriteTags' | 'tagFilter' | 'logger' | 'signal' | 'idleTimeoutMs' | 'retryBaseMs'
>

export interface SaveOptions extends EngineSettings {
  ruleFile: string
  securityFile?: string
  /** A folder, or FILE.tar (FILE.tar.gz, FILE.tar.zst). */
  output: string
  compress?: Compression
  /** `os/architecture[/variant]`: of a multi-arch image, only that platform's manifest. */
  platform?: string
}

/** A rule whose destination is the layout, under the source's own registry and repository. */
export function layoutRule(rule: Rule): Rule {
  const {source} = rule
  const destination: Rule['destination'] = {registry: LAYOUT_REGISTRY, repository: `${source.registry}/${source.repository}`}
  if (source.digest) destination.digest = source.digest
  return {...rule, destination}
}

export async function save(options: SaveOptions): Promise<TransferReport> {
  const target = outputTarget(options.output, options.compress)
  const platform = options.platform === undefined ? undefined : parsePlatform(options.platform)
  const inputs = await loadTransferInputs({ruleFile: options.ruleFile, securityFile: options.securityFile, registry: IGNORED_DESTINATION})
  const logger = options.logger ?? silentLogger
  const layout = await ImageLayout.forWriting(target.dir)
  layout.onSaved = (refName) => {
    const problem = skopeoRefProblem(refName)
    if (problem) logger.warn(`warning: ${problem}`)
  }
  const report = await runTransfer({
    ...options,
    rules: inputs.rules.map(layoutRule),
    ruleErrors: inputs.ruleErrors,
    ruleWarnings: inputs.ruleWarnings,
    credentials: inputs.credentials,
    endpoints: platform
      ? (registries) => layoutEndpoints(layout, 'destination')(platformSources(platform)(registries))
      : layoutEndpoints(layout, 'destination'),
  })
  await finishArchive(target, report, logger)
  return report
}

/** For a tar output: packs the staging folder, and removes it unless a failed job will want it again. */
export async function finishArchive(
  target: ReturnType<typeof outputTarget>,
  report: TransferReport,
  logger: NonNullable<EngineSettings['logger']>,
): Promise<void> {
  if (!target.archive) return
  await packLayout(target.dir, target.archive.file, target.archive.compression)
  if (report.summary.failed === 0 && report.summary.generateFailed === 0) await rm(target.dir, {recursive: true, force: true})
  else logger.warn(`warning: ${target.archive.file} holds what was saved; ${target.dir} is kept so a re-run adds only what is missing`)
}

/** `--dryRun`: the images the rules name (tags listed at the sources), nothing written. */
export async function planSave(options: Omit<SaveOptions, 'compress'>): Promise<Plan> {
  outputTarget(options.output, undefined)
  const inputs = await loadTransferInputs({ruleFile: options.ruleFile, securityFile: options.securityFile, registry: IGNORED_DESTINATION})
  const plan = await plannedImages(inputs.rules.map(layoutRule), inputs.credentials, options)
  for (const error of inputs.ruleErrors) plan.failures.unshift({rule: error.file ?? 'rule', code: error.code, message: error.message})
  return plan
}
