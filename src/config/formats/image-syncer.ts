/**
 * image-syncer's files (and image-migrator's, which are the same): an images file of rules, an
 * auth file of credentials per registry or registry/namespace (the fields are a subset of ferry's
 * security file: username, password, insecure, `${VAR}` expansion), and the older single config
 * file holding both under `auth:` and `images:`.
 */
import {ConfigError} from '../../errors.js'
import {quote} from '../../reference.js'
import {parseRules, type ParsedRules, type RuleDefaults} from '../rules.js'
import {parseSecurity, type CredentialStore} from '../security.js'
import {isPlainMap, kindOf, loadYaml, scanKeys} from '../yaml.js'
import {sectionText} from './section.js'
import {syncerEntry} from './syncer-rules.js'

export function parseSyncerImages(text: string, file: string, defaults: RuleDefaults): ParsedRules {
  return parseRules(text, file, defaults, {entry: syncerEntry})
}

export function parseSyncerAuth(text: string, file: string, env: NodeJS.ProcessEnv = process.env): CredentialStore {
  return parseSecurity(text, file, env)
}

const SECTIONS = ['auth', 'images'] as const

export function parseSyncerConfig(
  text: string,
  file: string,
  defaults: RuleDefaults,
  env: NodeJS.ProcessEnv = process.env,
): ParsedRules & {credentials?: CredentialStore} {
  const doc = loadYaml(text, file, {duplicates: 'error', what: 'section'}).value
  if (doc === null || doc === undefined) throw new ConfigError("the config file is empty; image-syncer's config has auth: and images: sections", {file})
  if (!isPlainMap(doc)) throw new ConfigError(`an image-syncer config file is a map with auth: and images:; this one is ${kindOf(doc)}`, {file})
  const lines = new Map(
    scanKeys(text)
      .filter((k) => k.top)
      .map((k) => [k.key, k.line]),
  )
  for (const [key, value] of Object.entries(doc)) {
    const line = lines.get(key)
    if (!(SECTIONS as readonly string[]).includes(key)) {
      throw new ConfigError(`unknown section ${quote(key)}; an image-syncer config file has auth: and images:`, {file, line})
    }
    if (value !== null && !isPlainMap(value)) throw new ConfigError(`section ${key}: must be a map; found ${kindOf(value)}`, {file, line})
  }
  if (doc.images === undefined || doc.images === null) throw new ConfigError('has no images: section, so there is nothing to copy', {file})

  const images = sectionText(text, 'images')
  const parsed = images === undefined ? {rules: [], errors: [], warnings: []} : parseSyncerImages(images, file, defaults)
  const auth = doc.auth === undefined || doc.auth === null ? undefined : sectionText(text, 'auth')
  return auth === undefined ? parsed : {...parsed, credentials: parseSecurity(auth, file, env)}
}
