import {readFile} from 'node:fs/promises'

import {checkFormat} from './config/formats/detect.js'
import {DockerCredentials, loadDockerConfig, withDockerCredentials} from './config/formats/docker-config.js'
import {parseImageList} from './config/formats/image-list.js'
import {parseImageTransferRules} from './config/formats/image-transfer.js'
import {parseSyncerConfig} from './config/formats/image-syncer.js'
import {parseSkopeoSync} from './config/formats/skopeo-sync.js'
import {defaultsFromEnv, type ParsedRules, type Rule} from './config/rules.js'
import {anonymousStore, fallbackStore, parseSecurity, type CredentialStore} from './config/security.js'
import {ConfigError} from './errors.js'

/** What the engine needs from the files users write; each input format produces this. */
export interface TransferInputs {
  rules: Rule[]
  ruleErrors: ConfigError[]
  /** What the loader read past on purpose, one line each. */
  ruleWarnings: string[]
  credentials: CredentialStore
}

/**
 * How to read the rules file. Without it the format is detected from the contents: a plain image
 * list, or a map of rules (image-transfer's forms plus image-syncer's extensions).
 */
export const RULE_FORMATS = ['image-transfer', 'image-syncer', 'image-list', 'skopeo-sync'] as const
export type RuleFormat = (typeof RULE_FORMATS)[number]

export interface InputFiles {
  /** image-transfer's rule file (or any rules format below). Exactly one of ruleFile, images, config. */
  ruleFile?: string
  /** image-syncer's / image-migrator's images file, or a plain image list. */
  images?: string
  /** image-syncer's older single file with `auth:` and `images:`. */
  config?: string
  format?: RuleFormat
  /** image-transfer's security file, or image-syncer's / image-migrator's auth file. */
  securityFile?: string
  /** Default destination registry and namespace for rules with an empty destination. */
  registry?: string
  ns?: string
  /**
   * Docker's config.json ($DOCKER_CONFIG, else ~/.docker) gives credentials to registries no
   * security entry gives any. Default true; false never reads it.
   */
  dockerConfig?: boolean
  /** --flatten's separator: destination paths below the namespace joined into one component. */
  flatten?: string
  env?: NodeJS.ProcessEnv
}

/** Every input format, picked by flag and contents. A file that cannot be read or parsed at all throws a ConfigError. */
export async function loadTransferInputs(files: InputFiles): Promise<TransferInputs> {
  const env = files.env ?? process.env
  const given = (['ruleFile', 'images', 'config'] as const).filter((name) => files[name] !== undefined)
  if (given.length !== 1) {
    throw new ConfigError(`give exactly one of --ruleFile, --images or --config${given.length > 1 ? ` (got ${given.map((g) => `--${g}`).join(' and ')})` : ''}`)
  }
  const defaults = defaultsFromEnv({registry: files.registry, ns: files.ns}, env)
  if (files.flatten !== undefined) defaults.flatten = files.flatten

  let credentials = anonymousStore
  if (files.securityFile) {
    const text = await readInput(files.securityFile, 'security file')
    checkFormat(text, files.securityFile, '--securityFile', ['credentials'])
    credentials = parseSecurity(text, files.securityFile, env)
  }

  let parsed: ParsedRules
  if (files.config !== undefined) {
    const text = await readInput(files.config, 'config file')
    checkFormat(text, files.config, '--config', ['syncer-config'])
    const config = parseSyncerConfig(text, files.config, defaults, env)
    if (config.credentials && files.securityFile) {
      throw new ConfigError(`has an auth: section and --securityFile was given too; keep the credentials in one of them`, {file: files.config})
    }
    credentials = config.credentials ?? credentials
    parsed = config
  } else {
    const flag = files.ruleFile !== undefined ? '--ruleFile' : '--images'
    const file = (files.ruleFile ?? files.images)!
    const input = parseRulesInput(await readInput(file, flag === '--ruleFile' ? 'rule file' : 'images file'), file, flag, defaults, files.format)
    // A skopeo sync file's own logins and TLS settings serve registries the security file has no entry for.
    if (input.credentials) credentials = fallbackStore(credentials, input.credentials)
    parsed = input
  }

  if (files.dockerConfig !== false) {
    const docker = loadDockerConfig(env)
    if (docker) credentials = withDockerCredentials(credentials, new DockerCredentials(docker))
  }
  return {rules: parsed.rules, ruleErrors: parsed.errors, ruleWarnings: parsed.warnings, credentials}
}

function parseRulesInput(
  text: string,
  file: string,
  flag: string,
  defaults: ReturnType<typeof defaultsFromEnv>,
  format?: RuleFormat,
): ParsedRules & {credentials?: CredentialStore} {
  // An explicit --format is believed; otherwise the contents decide, and a file of another kind is named.
  const detected = format ? undefined : checkFormat(text, file, flag, ['rules', 'image-list', 'skopeo-sync'])
  if (format === 'image-list' || detected === 'image-list') return parseImageList(text, file, defaults)
  if (format === 'skopeo-sync' || detected === 'skopeo-sync') return parseSkopeoSync(text, file, defaults)
  return parseImageTransferRules(text, file, defaults, {strict: format === 'image-transfer'})
}

async function readInput(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'unreadable'
    throw new ConfigError(`cannot read ${what} (${code})`, {file})
  }
}
