import {Flags} from '@oclif/core'

import {engineFlags, engineSettings, IMAGE_TRANSFER} from '../cli/engine-flags.js'
import {FerryCommand} from '../cli/ferry-command.js'
import {runEngineCommand} from '../cli/run-command.js'
import {selectionFlags, selectionSettings} from '../cli/selection-flags.js'
import type {RunReport} from '../report/run-report.js'
import {verify} from '../from-files.js'
import {formatVerifyReport} from '../verify.js'

// Copy-only settings have no meaning for a check that writes nothing and reads no blob.
const {'chunk-size': _chunkSize, 'tag-exist-overridden': _overwrite, 'limit-rate': _limitRate, ...checkFlags} = engineFlags

export default class Verify extends FerryCommand {
  static override summary = 'Check that every image the rules name is complete at its destination, without copying.'

  static override description = `Takes the same files and filters as transfer. For every source tag: the destination tag
must hold the same manifest digest (the subset index's with --platform), and every child manifest
and blob it references must be present (HEAD each). Prints one line per missing or different item
and exits 0 only when everything is complete (1 otherwise, also when a stop cut the check short;
2 for unusable inputs).
Repair with: ferry transfer --deep (same files and filters).`

  static override examples = [
    '<%= config.bin %> verify --securityFile security.yaml --ruleFile rules/rule.yaml',
    '<%= config.bin %> verify --ruleFile rules/selection.yaml --platform linux/amd64 --json',
  ]

  static override enableJsonFlag = true

  static override flags = {
    ruleFile: Flags.string({description: 'rule file, as for transfer', required: true, helpGroup: IMAGE_TRANSFER}),
    registry: Flags.string({description: 'default destination registry for rules with an empty destination (env DEFAULT_REGISTRY)', helpGroup: IMAGE_TRANSFER}),
    ns: Flags.string({
      description: 'default destination namespace (registry path) for rules with an empty destination (env DEFAULT_NAMESPACE); --namespace is the same flag',
      aliases: ['namespace'],
      helpGroup: IMAGE_TRANSFER,
    }),
    ...checkFlags,
    ...selectionFlags,
  }

  async run(): Promise<RunReport> {
    const {flags} = await this.parse(Verify)
    return runEngineCommand(
      this,
      flags,
      ({logger, signal, observer}) =>
        verify({
          ...engineSettings({...flags, 'tag-exist-overridden': true}),
          ...selectionSettings(flags),
          ruleFile: flags.ruleFile,
          securityFile: flags.securityFile,
          registry: flags.registry,
          ns: flags.ns,
          logger,
          signal,
          observer,
        }),
      (report) => formatVerifyReport(report.results, report.generateFailures, report),
    )
  }
}
