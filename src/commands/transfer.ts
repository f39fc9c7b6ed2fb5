import {Command, Flags} from '@oclif/core'

import {engineFlags, engineSettings} from '../cli/engine-flags.js'
import {runEngineCommand} from '../cli/run-command.js'
import {transfer, type TransferReport} from '../index.js'

export default class Transfer extends Command {
  static override summary = 'Copy images between registries by rules (image-transfer compatible).'

  static override description = `Reads a rule file (source → destination, image-transfer's format) and a security file
(credentials per registry or registry/namespace), then copies every image: manifests (single or
multi-arch) byte for byte, blobs streamed registry to registry and verified against their digests.
A tag whose destination already has the same digest costs one HEAD at each side.
Exits 0 only when every job succeeded and every rule generated its jobs.`

  static override examples = [
    '<%= config.bin %> transfer --securityFile security.yaml --ruleFile rules/rule.yaml',
    '<%= config.bin %> transfer --securityFile security.yaml --ruleFile rules/rule.yaml --routines 10 --qps 100 --retry 3',
    'DEFAULT_REGISTRY=registry.example.com DEFAULT_NAMESPACE=mirror <%= config.bin %> transfer --ruleFile images.yaml',
  ]

  static override enableJsonFlag = true

  static override flags = {
    ruleFile: Flags.string({description: 'rule file: a YAML or JSON map from source image to destination image', required: true}),
    registry: Flags.string({description: 'default destination registry for rules with an empty destination (env DEFAULT_REGISTRY)'}),
    ns: Flags.string({description: 'default destination namespace for rules with an empty destination (env DEFAULT_NAMESPACE)'}),
    ...engineFlags,
  }

  async run(): Promise<TransferReport> {
    const {flags} = await this.parse(Transfer)
    return runEngineCommand(this, flags, ({logger, signal}) =>
      transfer({
        ...engineSettings(flags),
        ruleFile: flags.ruleFile,
        securityFile: flags.securityFile,
        registry: flags.registry,
        ns: flags.ns,
        logger,
        signal,
      }),
    )
  }
}
