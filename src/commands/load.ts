import {Args, Flags} from '@oclif/core'

import {engineFlags, engineSettings} from '../cli/engine-flags.js'
import {FerryCommand} from '../cli/ferry-command.js'
import {runEngineCommand} from '../cli/run-command.js'
import {load} from '../offline-files.js'
import type {RunReport} from '../report/run-report.js'

export default class Load extends FerryCommand {
  static override summary = 'Load every image of an OCI image layout (folder or tar) into a registry.'

  static override description = `Reads a layout written by "ferry save", "ferry backup" or "skopeo copy … oci:DIR:REF" (a
folder, or a tar of one: plain, gzip or zstd) and pushes each image with the same engine as
"transfer": blobs verified against their digests, skipped when present, manifests last.
--registry/--ns keep the last path component of each saved repository and its tag
(reg/a/b/app:v1 → HOST/NS/app:v1); --registry without --ns keeps the whole repository path (a
restored backup). A rule file maps saved references to destinations instead; a destination
without a tag keeps the saved tag. A damaged blob fails the images that use it, naming the blob.`

  static override examples = [
    '<%= config.bin %> load images/ --registry registry.example.com --ns mirror --securityFile security.yaml',
    '<%= config.bin %> load images.tar.zst --ruleFile load-rules.yaml',
    '<%= config.bin %> load skopeo-layout/ --repository team/app --registry registry.example.com --ns team',
  ]

  static override enableJsonFlag = true

  static override args = {
    layout: Args.string({description: 'OCI layout folder, or a tar of one (.tar, .tar.gz, .tar.zst)', required: true}),
  }

  static override flags = {
    registry: Flags.string({description: 'destination registry host', exactlyOne: ['registry', 'ruleFile']}),
    ns: Flags.string({
      description: 'destination namespace (registry path): each image goes to REGISTRY/NS/<last path component>:<tag>; --namespace is the same flag',
      aliases: ['namespace'],
      dependsOn: ['registry'],
    }),
    ruleFile: Flags.string({description: 'rule file from saved references (registry/repo[:tag]) to destinations', exactlyOne: ['registry', 'ruleFile']}),
    repository: Flags.string({description: 'repository for entries whose ref name is a bare tag (as `skopeo copy … oci:DIR:TAG` writes)'}),
    ...engineFlags,
    frozen: Flags.boolean({
      description:
        "load only the images the layout's ferry.lock.yaml (written by save) names, at its digests; an image it does not name, or names at another digest, is not loaded (one line each)",
      default: false,
    }),
    'lock-file': Flags.string({description: "with --frozen: load by this lock file instead of the layout's own", aliases: ['lockFile']}),
  }

  async run(): Promise<RunReport> {
    const {args, flags} = await this.parse(Load)
    return runEngineCommand(this, flags, ({logger, signal, observer}) =>
      load({
        ...engineSettings(flags),
        input: args.layout,
        securityFile: flags.securityFile,
        registry: flags.registry,
        ns: flags.ns,
        ruleFile: flags.ruleFile,
        repository: flags.repository,
        frozen: flags.frozen,
        lockFile: flags['lock-file'],
        logger,
        signal,
        observer,
      }),
    )
  }
}
