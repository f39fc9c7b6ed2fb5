import {readFile} from 'node:fs/promises'

import {ConfigError} from '../errors.js'
import {expandEnv} from './env.js'
import {isPlainMap, kindOf, lineOfKey, loadYaml} from './yaml.js'

/** Cloud API keys for one provider. */
export interface CloudSecret {
  secretId?: string
  secretKey?: string
  /** Huawei Cloud (`swr:`): the region and project the keys are used in. */
  region?: string
  projectId?: string
}

/** Fields an entry may hold: `swr:` is written in Huawei's words (ak, sk), which stand for secretId and secretKey. */
const FIELDS: Record<string, Record<string, keyof CloudSecret>> = {
  swr: {ak: 'secretId', sk: 'secretKey', secretId: 'secretId', secretKey: 'secretKey', region: 'region', projectId: 'projectId'},
}
const DEFAULT_FIELDS: Record<string, keyof CloudSecret> = {secretId: 'secretId', secretKey: 'secretKey'}

export type CloudSecrets = Record<string, CloudSecret | undefined>

/**
 * image-transfer's secret.yaml: `ccr:` and `tcr:` (here: any provider name) each with secretId
 * and secretKey (`swr:` with Huawei's ak, sk, region, projectId), `${VAR}`/`$VAR` from the environment. For image-transfer's pair, a side that is
 * missing borrows the other's keys, as image-transfer does. Values never appear in messages.
 */
export function parseSecrets(text: string, file: string, env: NodeJS.ProcessEnv = process.env): CloudSecrets {
  const doc = loadYaml(text, file, {duplicates: 'error', what: 'entry'}).value
  if (doc === null || doc === undefined) return {}
  if (!isPlainMap(doc))
    throw new ConfigError(`a secret file maps a provider name (ccr, tcr, ecr, acr, …) to {secretId, secretKey}; this one is ${kindOf(doc)}`, {file})
  const secrets: CloudSecrets = {}
  for (const [name, value] of Object.entries(doc)) {
    const line = lineOfKey(text, name)
    if (!isPlainMap(value))
      throw new ConfigError(`entry ${JSON.stringify(name)} must be a map with secretId and secretKey, found ${kindOf(value)}`, {file, line})
    const secret: CloudSecret = {}
    const fields = FIELDS[name] ?? DEFAULT_FIELDS
    for (const [field, raw] of Object.entries(value)) {
      const target = Object.hasOwn(fields, field) ? fields[field] : undefined
      if (!target) {
        throw new ConfigError(`entry ${JSON.stringify(name)}: unknown field (allowed: ${Object.keys(fields).join(', ')})`, {file, line})
      }
      if (typeof raw !== 'string') throw new ConfigError(`entry ${JSON.stringify(name)}: ${field} must be a string (quote it)`, {file, line})
      const expanded = expandEnv(raw, env)
      if (!expanded.ok) throw new ConfigError(`entry ${JSON.stringify(name)}: ${field}: ${expanded.problem}`, {file, line})
      secret[target] = expanded.value
    }
    secrets[name] = secret
  }
  // image-transfer: each of ccr and tcr stands in for the other when missing.
  secrets.ccr ??= secrets.tcr
  secrets.tcr ??= secrets.ccr
  return secrets
}

export async function loadSecretFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<CloudSecrets> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new ConfigError(`cannot read secret file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, {file})
  }
  return parseSecrets(text, file, env)
}
