import {Flags} from '@oclif/core'

import {engineFlags, engineSettings, pruneFlags, pruneSettings} from '../cli/engine-flags.js'
import {FerryCommand} from '../cli/ferry-command.js'
import {runMigration, type MigrationRequest} from '../cli/migration.js'
import type {Logger} from '../report/logger.js'
import {runEngineCommand} from '../cli/run-command.js'
import {exitWithUserError} from '../cli/user-error.js'
import {runServiceCommand} from '../cli/run-service.js'
import {isStanding, standingFlags, triggerFromFlags} from '../cli/serve-flags.js'
import {planFlags, selectionFlags, selectionSettings} from '../cli/selection-flags.js'
import {ConfigError} from '../errors.js'
import {runnerSyncJob} from '../serve/sync-job.js'
import {providerNames} from '../providers/index.js'
import type {RunReport} from '../report/run-report.js'

export default class Migrate extends FerryCommand {
  static override summary = 'One-click migration of a whole registry: a source provider enumerates, a destination provider prepares.'

  static override description = `Every repository and tag the source provider finds is copied to the destination registry by
the same engine as "transfer"; the destination provider creates namespaces, projects or
repositories where its registry needs them before a push. Providers: ${providerNames().join(', ')}.`

  static override examples = [
    '<%= config.bin %> migrate --from registry --from-registry old.example.com --to registry --to-registry new.example.com --securityFile security.yaml',
    '<%= config.bin %> migrate --from registry --from-registry old.example.com --from-namespace team --to registry --to-registry new.example.com --to-namespace mirror',
    '<%= config.bin %> migrate --from ecr --from-region us-east-1 --to registry --to-registry new.example.com --latest 3 --platform linux/amd64 --dry-run',
  ]

  static override enableJsonFlag = true

  static override flags = {
    from: Flags.string({description: 'source provider', required: true}),
    to: Flags.string({description: 'destination provider', required: true}),
    'from-registry': Flags.string({
      aliases: ['fromRegistry'],
      description: 'source registry host (registry, harbor)',
    }),
    'to-registry': Flags.string({
      aliases: ['toRegistry'],
      description: 'destination registry host (registry, harbor)',
    }),
    'from-namespace': Flags.string({
      aliases: ['fromNamespace'],
      description: 'only repositories under this namespace (or project)',
    }),
    'to-namespace': Flags.string({
      aliases: ['toNamespace'],
      description: "put every repository under this namespace at the destination (replaces the source's first path component)",
    }),
    'from-region': Flags.string({
      aliases: ['fromRegion'],
      description: 'source cloud region',
    }),
    'to-region': Flags.string({
      aliases: ['toRegion'],
      description: 'destination cloud region',
    }),
    'from-instance': Flags.string({
      aliases: ['fromInstance'],
      description: 'source instance (name or id) for enterprise registries',
    }),
    'to-instance': Flags.string({
      aliases: ['toInstance'],
      description: 'destination instance (name or id) for enterprise registries',
    }),
    secretFile: Flags.string({
      description: 'cloud API keys per provider (image-transfer secret.yaml: ccr/tcr secretId and secretKey; swr ak, sk, region, projectId)',
    }),
    repositories: Flags.string({
      description: 'only source repositories matching this glob (`*` within a path component, `**` across; repeatable)',
      multiple: true,
    }),
    ccrTagNums: Flags.integer({
      description: 'ccr and swr sources: the newest N tags of each repository by push (update) time (0 = all; default 100 for ccr, all for swr)',
      min: 0,
    }),
    ...engineFlags,
    ...pruneFlags,
    // --flatten is transfer's: migrate already maps paths with --toNamespace.
    semver: selectionFlags.semver,
    latest: selectionFlags.latest,
    platform: selectionFlags.platform,
    ...planFlags,
    ...standingFlags,
  }

  async run(): Promise<RunReport | undefined> {
    const {flags} = await this.parse(Migrate)
    // The other providers name each tag they copy, so no listing says which destination tags the source lost.
    if (flags.prune && flags.from !== 'registry')
      exitWithUserError(this, `--prune works with --from registry for now; --from ${flags.from} names its tags one by one, so nothing would be pruned`)
    // Called inside the command runners, so a bad --semver or --platform is their one-line error.
    const selection = () => selectionSettings({...flags, flatten: false, 'flatten-separator': '-'})
    const request = (logger: Logger, signal: AbortSignal, hooks?: MigrationRequest['hooks']): MigrationRequest => {
      const {tagSelection, platforms} = selection()
      return {
        from: flags.from,
        to: flags.to,
        fromSettings: {
          registry: flags['from-registry'],
          namespace: flags['from-namespace'],
          region: flags['from-region'],
          instance: flags['from-instance'],
          tagNums: flags.ccrTagNums === undefined ? undefined : String(flags.ccrTagNums),
        },
        toSettings: {registry: flags['to-registry'], namespace: flags['to-namespace'], region: flags['to-region'], instance: flags['to-instance']},
        toNamespace: flags['to-namespace'],
        repositories: flags.repositories,
        securityFile: flags.securityFile,
        secretFile: flags.secretFile,
        engine: {...engineSettings(flags), ...pruneSettings(flags), tagSelection, platforms, dryRun: flags['dry-run'], deep: flags.deep},
        logger,
        signal,
        hooks,
      }
    }
    if (isStanding(flags)) {
      // A provider enumerates its rules afresh each run, so pushes are not matched: schedule only.
      return runServiceCommand(this, flags, async () => {
        if (flags['dry-run']) throw new ConfigError('--dryRun runs once; drop --schedule and --interval to see the plan')
        selection() // a bad selection flag stops the start, not the first tick
        return [runnerSyncJob({name: 'migrate', trigger: triggerFromFlags(flags), run: (hooks) => runMigration(request(hooks.logger, hooks.signal, hooks))})]
      })
    }
    return runEngineCommand(this, flags, ({logger, signal, observer}) => runMigration(request(logger, signal, observer ? {observer} : undefined)))
  }
}
