import {Flags, type Interfaces} from '@oclif/core'

import {engineFlags, engineSettings, lockFlags} from '../cli/engine-flags.js'
import {FerryCommand} from '../cli/ferry-command.js'
import {runEngineCommand} from '../cli/run-command.js'
import {exitWithUserError} from '../cli/user-error.js'
import {FerryError} from '../errors.js'
import {planSave, save} from '../offline-files.js'
import type {Plan} from '../offline/plan.js'
import type {RunReport} from '../report/run-report.js'

// Writes a layout, not a registry: nothing is uploaded, in chunks or otherwise.
const {'chunk-size': _chunkSize, ...layoutFlags} = engineFlags

export default class Save extends FerryCommand {
  static override summary = 'Save the source images of a rule file into one OCI image layout (a folder or a tar).'

  static override description = `Every image the rule file's sources name (all rule forms and tag filters of "transfer"; the
destination side of a rule is not used and may be left empty) goes into one OCI image layout:
oci-layout, index.json, blobs/sha256/. Each image is an index.json entry whose
org.opencontainers.image.ref.name is its full source reference (registry/namespace/repo:tag).
Multi-arch images are saved whole; manifests byte for byte, Docker media types included; every
blob is stored once. Blobs are verified and renamed into place, index.json is replaced
atomically, so a run killed at any point and run again finishes the layout.`

  static override examples = [
    '<%= config.bin %> save --securityFile security.yaml --ruleFile rules.yaml --output images/',
    '<%= config.bin %> save --ruleFile rules.yaml --output images.tar.zst --compress zstd',
    '<%= config.bin %> save --ruleFile rules.yaml --output images/ --dry-run',
  ]

  static override enableJsonFlag = true

  static override flags = {
    ruleFile: Flags.string({description: 'rule file (transfer format); its sources are saved, its destinations ignored', required: true}),
    output: Flags.string({description: 'layout folder, or FILE.tar (.tar.gz, .tar.zst) for a tar with the layout at its root', required: true}),
    compress: Flags.string({description: 'compress the tar (gzip through zlib, zstd through the zstd program)', options: ['gzip', 'zstd']}),
    platform: Flags.string({
      description:
        'of a multi-arch image, save only these platforms (os/architecture[/variant]: linux/arm64; repeatable or comma-separated): one is saved as that plain image, several as a new index of just them; default: every platform',
      multiple: true,
    }),
    'dry-run': Flags.boolean({
      description: 'list the images that would be saved (tags listed at the sources); write nothing',
      aliases: ['dryRun'],
      default: false,
    }),
    ...layoutFlags,
    ...lockFlags,
  }

  async run(): Promise<RunReport | Plan> {
    const {flags} = await this.parse(Save)
    const compress = flags.compress as 'gzip' | 'zstd' | undefined
    if (flags['dry-run']) return this.dryRun(flags)
    return runEngineCommand(this, flags, ({logger, signal, observer}) =>
      save({
        ...engineSettings(flags),
        ruleFile: flags.ruleFile,
        securityFile: flags.securityFile,
        output: flags.output,
        compress,
        platform: flags.platform,
        lockFile: flags['lock-file'],
        frozen: flags.frozen,
        logger,
        signal,
        observer,
      }),
    )
  }

  private async dryRun(flags: Interfaces.InferredFlags<typeof Save.flags>): Promise<Plan> {
    let plan: Plan
    try {
      plan = await planSave({...engineSettings(flags), ruleFile: flags.ruleFile, securityFile: flags.securityFile, output: flags.output})
    } catch (error) {
      if (!FerryError.is(error)) throw error
      exitWithUserError(this, error.message)
    }
    if (!this.jsonEnabled()) {
      for (const image of plan.images) this.log(image)
      for (const failure of plan.failures) this.logToStderr(`generate failed: ${failure.message}`)
      this.log(`Dry run: ${plan.images.length} images would be saved to ${flags.output}, ${plan.failures.length} rules failed to generate`)
    }
    if (plan.failures.length > 0) process.exitCode = 1
    return plan
  }
}
