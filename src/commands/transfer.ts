import {Flags} from '@oclif/core'

import {engineFlags, engineSettings, IMAGE_TRANSFER, lockFlags, pruneFlags, pruneSettings} from '../cli/engine-flags.js'
import {FerryCommand} from '../cli/ferry-command.js'
import {runMigration} from '../cli/migration.js'
import {runEngineCommand} from '../cli/run-command.js'
import {exitWithUserError} from '../cli/user-error.js'
import {planFlags, selectionFlags, selectionSettings} from '../cli/selection-flags.js'
import {ConfigError} from '../errors.js'
import {cloudDestinations, transfer, transferSyncJob} from '../from-files.js'
import type {RunReport} from '../report/run-report.js'
import {RULE_FORMATS, type InputFiles} from '../inputs.js'

const INPUTS = ['ruleFile', 'ccrToTcr', 'images', 'config']
/** Flags image-syncer and image-migrator users already type. */
const IMAGE_SYNCER = 'IMAGE-SYNCER / IMAGE-MIGRATOR'
import {isStanding, standingFlags, triggerFromFlags} from '../cli/serve-flags.js'
import {queueFlags} from '../cli/queue-flags.js'

/** The inputs, whichever format they come in (--ruleFile, --images, --config); `ferry diff` reads the same. */
export function inputFiles(flags: Pick<InputFiles, 'ruleFile' | 'images' | 'config' | 'securityFile' | 'registry' | 'ns'> & {format?: string}): InputFiles {
  return {
    ruleFile: flags.ruleFile,
    images: flags.images,
    config: flags.config,
    format: flags.format as (typeof RULE_FORMATS)[number] | undefined,
    securityFile: flags.securityFile,
    registry: flags.registry,
    ns: flags.ns,
  }
}

export default class Transfer extends FerryCommand {
  static override summary = 'Copy images between registries by rules (image-transfer compatible).'

  static override description = `Reads a rule file (source → destination, image-transfer's format) and a security file
(credentials per registry or registry/namespace), then copies every image: manifests (single or
multi-arch) byte for byte, blobs streamed registry to registry and verified against their digests.
image-syncer's and image-migrator's --auth/--images pair, image-syncer's --config file and plain
image lists are read too (the format is detected from the file; --format overrides), and docker's
config.json gives credentials to registries the security file gives none.
A tag whose destination already has the same digest costs one HEAD at each side.
Exits 0 only when every job succeeded and every rule generated its jobs; a run a stop (SIGINT,
SIGTERM) cut short exits 1 and names the rules that did not finish.`

  static override examples = [
    '<%= config.bin %> transfer --securityFile security.yaml --ruleFile rules/rule.yaml',
    '<%= config.bin %> transfer --securityFile security.yaml --ruleFile rules/rule.yaml --routines 10 --qps 100 --retry 3',
    '<%= config.bin %> transfer --auth auth.json --images images.json --proc 6 --retries 3',
    '<%= config.bin %> transfer --images rules/images.list --registry registry.example.com --ns mirror',
    '<%= config.bin %> transfer --config config.yaml',
    '<%= config.bin %> transfer --securityFile security.yaml --ruleFile rules/rule.yaml --interval 15m --state-file state.json --listen 0.0.0.0:9090',
    'DEFAULT_REGISTRY=registry.example.com DEFAULT_NAMESPACE=mirror <%= config.bin %> transfer --ruleFile images.yaml',
    '<%= config.bin %> transfer --ruleFile rules/selection.yaml --semver ">=1.2 <2" --latest 3 --platform linux/amd64,linux/arm64 --dry-run',
    '<%= config.bin %> transfer --securityFile security.yaml --ruleFile rules/rule.yaml --queue redis://redis:6379/0',
  ]

  static override enableJsonFlag = true

  static override flags = {
    ruleFile: Flags.string({
      description: 'rule file: a YAML or JSON map from source image to destination image (not with --ccrToTcr)',
      helpGroup: IMAGE_TRANSFER,
      exactlyOne: INPUTS,
    }),
    images: Flags.string({
      description:
        "image-syncer's / image-migrator's images file (JSON or YAML rules), or a plain image list (one source a line; destination from --registry/--ns)",
      helpGroup: IMAGE_SYNCER,
      exactlyOne: INPUTS,
    }),
    config: Flags.string({
      description: "image-syncer's older single config file with auth: and images: sections",
      helpGroup: IMAGE_SYNCER,
      exactlyOne: INPUTS,
    }),
    format: Flags.string({
      description:
        "how to read --ruleFile/--images instead of detecting it: image-transfer (its rule forms only), image-syncer (plus regex tags, renamed tags, lists of destinations), image-list (one image a line), skopeo-sync (skopeo sync's --src yaml file)",
      options: [...RULE_FORMATS],
    }),
    registry: Flags.string({
      description: 'default destination registry for rules with an empty destination (env DEFAULT_REGISTRY, which image-transfer documents but never read)',
      helpGroup: IMAGE_TRANSFER,
    }),
    ns: Flags.string({
      description:
        "default destination namespace (registry path) for rules with an empty destination (env DEFAULT_NAMESPACE; image-transfer never read --ns); --namespace, image-syncer's name, is the same flag",
      aliases: ['namespace'],
      helpGroup: IMAGE_TRANSFER,
    }),
    ccrToTcr: Flags.boolean({
      description: 'one-click migration of a whole Tencent CCR (personal edition) into a TCR enterprise instance; same as `ferry migrate --from ccr --to tcr`',
      helpGroup: IMAGE_TRANSFER,
      exactlyOne: INPUTS,
    }),
    ccrRegion: Flags.string({description: 'CCR region (--ccrToTcr)', default: 'ap-guangzhou', helpGroup: IMAGE_TRANSFER}),
    tcrRegion: Flags.string({description: 'TCR instance region (--ccrToTcr)', default: 'ap-guangzhou', helpGroup: IMAGE_TRANSFER}),
    tcrName: Flags.string({description: 'TCR instance name (--ccrToTcr)', helpGroup: IMAGE_TRANSFER}),
    secretFile: Flags.string({
      description:
        'cloud API keys: ccr/tcr secretId and secretKey, each standing in for the other (--ccrToTcr); swr ak, sk, region, projectId (an SWR destination: login derived, organizations created)',
      helpGroup: IMAGE_TRANSFER,
    }),
    'swr-registry': Flags.string({
      aliases: ['swrRegistry'],
      description:
        'this destination registry host is Huawei SWR though not named swr.<region>.myhuaweicloud.com (needs SWR keys: --secretFile swr entry or HUAWEICLOUD_SDK_AK/SK)',
      helpGroup: IMAGE_SYNCER,
    }),
    ccrTagNums: Flags.integer({
      description: 'newest N tags of each CCR repository by push time (0 = all); ferry reports how many it left out, image-transfer did not',
      default: 100,
      min: 0,
      helpGroup: IMAGE_TRANSFER,
    }),
    ...engineFlags,
    ...pruneFlags,
    ...lockFlags,
    ...selectionFlags,
    ...planFlags,
    ...standingFlags,
    ...queueFlags(false),
  }

  async run(): Promise<RunReport | undefined> {
    const {flags} = await this.parse(Transfer)
    // Prune weighs the whole run's listings and results, which one process sees only when it copies too.
    if (flags.prune && (flags.queue || flags.ccrToTcr))
      exitWithUserError(this, `--prune does not go with --${flags.queue ? 'queue' : 'ccrToTcr'}; run it with --ruleFile, --images or --config`)
    if ((flags['lock-file'] || flags.frozen) && (flags.queue || flags.ccrToTcr)) {
      // The queue's results are the workers'; the CCR migration's jobs no diff or --frozen run can list again (docs/lock-file.md).
      exitWithUserError(
        this,
        `--lock-file and --frozen do not go with --${flags.queue ? 'queue' : 'ccrToTcr'}; run the rules with --ruleFile, --images or --config`,
      )
    }
    // A standing mirror writes its lock after each run; copying one fixed lock again and again is a one-shot run's job.
    if (flags.frozen && isStanding(flags)) exitWithUserError(this, '--frozen copies a lock once; drop --schedule, --interval and --listen')
    if (flags.queue) {
      // Loaded only here: the fleet's modules bring BullMQ and a Redis client.
      const {runEnqueue} = await import('../cli/enqueue-command.js')
      await runEnqueue(this, {...flags, queue: flags.queue, standing: isStanding(flags)})
      return undefined
    }
    const files = inputFiles(flags)
    const ccrToTcr = (run: Pick<Parameters<typeof runMigration>[0], 'logger' | 'signal' | 'hooks'>) =>
      runMigration({
        from: 'ccr',
        to: 'tcr',
        fromSettings: {region: flags.ccrRegion, tagNums: String(flags.ccrTagNums)},
        toSettings: {region: flags.tcrRegion, instance: flags.tcrName},
        securityFile: flags.securityFile,
        secretFile: flags.secretFile,
        engine: engineSettings(flags),
        ...run,
      })
    if (isStanding(flags)) {
      if (flags['swr-registry']) throw new ConfigError('--swr-registry runs once for now; drop --schedule, --interval and --listen')
      const [{runServiceCommand}, {runnerSyncJob}] = await Promise.all([import('../cli/run-service.js'), import('../serve/sync-job.js')])
      return runServiceCommand(this, flags, async (logger) => {
        const trigger = triggerFromFlags(flags)
        if (flags.ccrToTcr) {
          return [
            runnerSyncJob({
              name: 'transfer',
              trigger,
              run: (hooks) => ccrToTcr({logger: hooks.logger, signal: hooks.signal, hooks}),
            }),
          ]
        }
        if (flags['dry-run']) throw new ConfigError('--dryRun runs once; drop --schedule, --interval and --listen to see the plan')
        // SWR keys with an SWR destination ask for its login and organizations, which only a single run makes.
        const cloud = await cloudDestinations(files, {secretFile: flags.secretFile, qps: engineSettings(flags).qps})
        if (cloud) {
          await cloud.limiter.stop()
          throw new ConfigError(
            'an SWR destination with SWR keys is prepared (login, organizations) in one run for now; drop --schedule, --interval and --listen',
          )
        }
        const {flatten, ...selection} = selectionSettings(flags)
        const job = transferSyncJob({
          name: 'transfer',
          trigger,
          files: {...files, ...(flatten !== undefined ? {flatten} : {})},
          engine: {...engineSettings(flags), ...pruneSettings(flags), ...selection, deep: flags.deep},
          lockFile: flags['lock-file'],
        })
        // A broken rule or security file stops the start, not the first tick.
        await job.load()
        return [job]
      })
    }
    if (flags.ccrToTcr) {
      return runEngineCommand(this, flags, ({logger, signal, observer}) => {
        const unused = ['semver', 'latest', 'platform', 'flatten', 'dry-run', 'deep'].filter((name) => Boolean(flags[name as keyof typeof flags]))
        if (unused.length > 0) throw new ConfigError(`--ccrToTcr does not take ${unused.map((name) => `--${name}`).join(', ')}; use them with --ruleFile`)
        return ccrToTcr({logger, signal, ...(observer ? {hooks: {observer}} : {})})
      })
    }
    return runEngineCommand(this, flags, async ({logger, signal, observer}) => {
      const run = {
        ...engineSettings(flags),
        ...pruneSettings(flags),
        ...selectionSettings(flags),
        dryRun: flags['dry-run'],
        deep: flags.deep,
        lockFile: flags['lock-file'],
        frozen: flags.frozen,
        logger,
        signal,
        observer,
      }
      // A destination in Huawei SWR with SWR keys given: the login is derived, organizations are made.
      const cloud = await cloudDestinations(files, {secretFile: flags.secretFile, swrRegistry: flags['swr-registry'], qps: run.qps})
      if (!cloud) return transfer({...run, ...files})
      try {
        return await transfer({...run, ...cloud.inputs, ...cloud.options, limiter: cloud.limiter})
      } finally {
        await cloud.limiter.stop()
      }
    })
  }
}
