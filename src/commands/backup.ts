import {Flags} from '@oclif/core'

import {engineFlags, engineSettings} from '../cli/engine-flags.js'
import {FerryCommand} from '../cli/ferry-command.js'
import {runEngineCommand} from '../cli/run-command.js'
import {backup} from '../offline-files.js'

// Writes a layout, not a registry: nothing is uploaded, in chunks or otherwise.
const {'chunk-size': _chunkSize, ...layoutFlags} = engineFlags
import type {RunReport} from '../report/run-report.js'

export default class Backup extends FerryCommand {
  static override summary = 'Back up every repository and tag of a registry into one OCI image layout.'

  static override description = `Lists the registry's repositories through /v2/_catalog (following Link pages), keeps those
under the namespace when one is given, and saves every tag of each into one layout, as "ferry
save" does, with backup.json beside index.json listing each saved reference, its digest and
its size. Run again to add what changed; "ferry load DIR --registry HOST" restores it.`

  static override examples = [
    '<%= config.bin %> backup --securityFile security.yaml --source registry.example.com --output backup/',
    '<%= config.bin %> backup --source registry.example.com/team --output team-backup/',
  ]

  static override enableJsonFlag = true

  static override flags = {
    source: Flags.string({description: 'registry to back up: HOST, or HOST/namespace for one namespace', required: true}),
    output: Flags.string({description: 'layout folder (or FILE.tar)', required: true}),
    ...layoutFlags,
  }

  async run(): Promise<RunReport> {
    const {flags} = await this.parse(Backup)
    return runEngineCommand(this, flags, ({logger, signal, observer}) =>
      backup({...engineSettings(flags), source: flags.source, securityFile: flags.securityFile, output: flags.output, logger, signal, observer}),
    )
  }
}
