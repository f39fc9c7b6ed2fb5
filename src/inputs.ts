import {defaultsFromEnv, loadRuleFile, type Rule} from './config/rules.js'
import {anonymousStore, loadSecurityFile, type CredentialStore} from './config/security.js'
import type {ConfigError} from './errors.js'

/** What the engine needs from the files users write; each input format produces this. */
export interface TransferInputs {
  rules: Rule[]
  ruleErrors: ConfigError[]
  /** What the loader read past on purpose, one line each. */
  ruleWarnings: string[]
  credentials: CredentialStore
}

export interface InputFiles {
  ruleFile: string
  securityFile?: string
  /** Default destination registry and namespace for rules with an empty destination. */
  registry?: string
  ns?: string
  /** --flatten's separator: destination paths below the namespace joined into one component. */
  flatten?: string
  env?: NodeJS.ProcessEnv
}

/** image-transfer's pair of files. A file that cannot be read or parsed at all throws a ConfigError. */
export async function loadTransferInputs(files: InputFiles): Promise<TransferInputs> {
  const env = files.env ?? process.env
  const credentials = files.securityFile ? await loadSecurityFile(files.securityFile, env) : anonymousStore
  const defaults = defaultsFromEnv({registry: files.registry, ns: files.ns}, env)
  if (files.flatten !== undefined) defaults.flatten = files.flatten
  const {rules, errors, warnings} = await loadRuleFile(files.ruleFile, defaults)
  return {rules, ruleErrors: errors, ruleWarnings: warnings, credentials}
}
