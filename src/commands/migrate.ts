import {Command, Flags} from '@oclif/core'

import {engineFlags, engineSettings} from '../cli/engine-flags.js'
import {runEngineCommand} from '../cli/run-command.js'
import {loadSecretFile} from '../config/secrets.js'
import {anonymousStore, loadSecurityFile} from '../config/security.js'
import {loadProvider, providerNames} from '../providers/index.js'
import {migrate} from '../providers/migrate.js'
import type {ProviderContext} from '../providers/provider.js'
import {createLimiter} from '../registry/limiter.js'
import type {TransferReport} from '../transfer/run.js'
import {ConfigError} from '../errors.js'

export default class Migrate extends Command {
  static override summary = 'One-click migration of a whole registry: a source provider enumerates, a destination provider prepares.'

  static override description = `Every repository and tag the source provider finds is copied to the destination registry by
the same engine as "transfer"; the destination provider creates namespaces, projects or
repositories where its registry needs them before a push. Providers: ${providerNames().join(', ')}.`

  static override examples = [
    '<%= config.bin %> migrate --from registry --fromRegistry old.example.com --to registry --toRegistry new.example.com --securityFile security.yaml',
    '<%= config.bin %> migrate --from registry --fromRegistry old.example.com --fromNamespace team --to registry --toRegistry new.example.com --toNamespace mirror',
  ]

  static override enableJsonFlag = true

  static override flags = {
    from: Flags.string({description: 'source provider', required: true}),
    to: Flags.string({description: 'destination provider', required: true}),
    fromRegistry: Flags.string({description: 'source registry host (registry, harbor)'}),
    toRegistry: Flags.string({description: 'destination registry host (registry, harbor)'}),
    fromNamespace: Flags.string({description: 'only repositories under this namespace (or project)'}),
    toNamespace: Flags.string({description: "put every repository under this namespace at the destination (replaces the source's first path component)"}),
    fromRegion: Flags.string({description: 'source cloud region'}),
    toRegion: Flags.string({description: 'destination cloud region'}),
    fromInstance: Flags.string({description: 'source instance (name or id) for enterprise registries'}),
    toInstance: Flags.string({description: 'destination instance (name or id) for enterprise registries'}),
    secretFile: Flags.string({description: 'cloud API keys per provider (image-transfer secret.yaml: ccr/tcr secretId and secretKey)'}),
    ...engineFlags,
  }

  async run(): Promise<TransferReport> {
    const {flags} = await this.parse(Migrate)
    return runEngineCommand(this, flags, async ({logger, signal}) => {
      const [fromModule, toModule] = await Promise.all([loadProvider(flags.from), loadProvider(flags.to)])
      if (!fromModule.source) throw new ConfigError(`provider ${fromModule.name} cannot be a source`)
      if (!toModule.destination) throw new ConfigError(`provider ${toModule.name} cannot be a destination`)
      const settings = engineSettings(flags)
      const credentials = flags.securityFile ? await loadSecurityFile(flags.securityFile) : anonymousStore
      const secrets = flags.secretFile ? await loadSecretFile(flags.secretFile) : {}
      const limiter = createLimiter({qps: settings.qps})
      const base = {secrets, credentials, limiter, env: process.env, logger}
      const fromContext: ProviderContext = {
        ...base,
        settings: {registry: flags.fromRegistry, namespace: flags.fromNamespace, region: flags.fromRegion, instance: flags.fromInstance},
      }
      const toContext: ProviderContext = {
        ...base,
        settings: {registry: flags.toRegistry, namespace: flags.toNamespace, region: flags.toRegion, instance: flags.toInstance},
      }
      const [from, to] = await Promise.all([fromModule.source(fromContext), toModule.destination(toContext)])
      try {
        return await migrate({...settings, from, to, credentials, limiter, toNamespace: flags.toNamespace, logger, signal})
      } finally {
        await limiter.stop()
      }
    })
  }
}
