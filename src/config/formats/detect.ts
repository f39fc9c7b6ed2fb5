/**
 * Which input format a file is, from its contents: ferry reads files written for image-transfer,
 * image-syncer, image-migrator and docker, and a file passed to the wrong flag is named for what
 * it is rather than failing rule by rule.
 */
import {ConfigError} from '../../errors.js'
import {isPlainMap, loadYaml} from '../yaml.js'
import {looksLikeSkopeoSync} from './skopeo-sync.js'

export type DetectedFormat =
  /** image-transfer's rule.yaml, image-syncer's / image-migrator's images file. */
  | 'rules'
  | 'image-list'
  /** image-syncer's single file with `auth:` and `images:`. */
  | 'syncer-config'
  /** skopeo sync's YAML source file (registry → images, images-by-tag-regex, images-by-semver). */
  | 'skopeo-sync'
  /** image-transfer's security.yaml, image-syncer's / image-migrator's auth file. */
  | 'credentials'
  | 'docker-config'
  | 'kubeconfig'
  | 'empty'
  | 'unknown'

/** Per format: what it is called and where it goes. */
export const FORMAT_HINTS: Record<Exclude<DetectedFormat, 'empty' | 'unknown'>, {name: string; use: string}> = {
  rules: {name: 'a rule file (image-transfer rule.yaml or image-syncer images file)', use: 'pass it to --ruleFile or --images'},
  'image-list': {name: 'a plain image list', use: 'pass it to --images or --ruleFile, with --registry/--ns for the destination'},
  'syncer-config': {name: 'an image-syncer config file (auth: and images:)', use: 'pass it to --config'},
  'skopeo-sync': {name: 'a skopeo sync file', use: 'pass it to --images or --ruleFile, with --registry/--ns for the destination'},
  credentials: {name: 'an image-transfer security file (or image-syncer auth file)', use: 'pass it to --securityFile (or --auth)'},
  'docker-config': {
    name: 'a Docker config.json',
    use: 'ferry reads it by itself when no security entry gives credentials: put it at ~/.docker/config.json or set DOCKER_CONFIG to its directory',
  },
  kubeconfig: {name: 'a kubeconfig', use: 'run `ferry config k8s --kubeconfig FILE -t REGISTRY/NAMESPACE` to write a rule file of the images its cluster runs'},
}

const CREDENTIAL_FIELDS = new Set(['username', 'password', 'insecure', 'skipTlsVerify', 'caFile'])

export function detectFormat(text: string): DetectedFormat {
  const content = text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line !== '')
  if (content.length === 0) return 'empty'
  // A YAML rule needs `: ` or a trailing `:`, JSON starts with a brace: one bare word a line is a list.
  if (content.every((line) => !/\s/.test(line) && !line.endsWith(':') && !/^[{[\-"'?%&*!|>@`]/.test(line))) return 'image-list'

  let doc: unknown
  try {
    doc = loadYaml(text, 'detect', {duplicates: 'report', what: 'entry'}).value
  } catch (error) {
    if (error instanceof ConfigError) return 'unknown'
    throw error
  }
  if (!isPlainMap(doc)) return 'unknown'
  const keys = Object.keys(doc)
  if (keys.length === 0) return 'empty'
  if (keys.some((k) => k === 'auths' || k === 'credHelpers' || k === 'credsStore')) return 'docker-config'
  if ('apiVersion' in doc && ('clusters' in doc || 'contexts' in doc)) return 'kubeconfig'
  if (keys.every((k) => k === 'auth' || k === 'images')) return 'syncer-config'
  if (looksLikeSkopeoSync(doc)) return 'skopeo-sync'
  const values = Object.values(doc)
  // A destination is a string (or image-syncer's list); credentials are never either.
  if (values.some((v) => typeof v === 'string' || Array.isArray(v))) return 'rules'
  // Map values only: credentials when each names a credential field (a typo in another is still
  // the security parser's to explain); rules whose values are objects stay undecided.
  const maps = values.filter(isPlainMap)
  if (maps.length > 0 && maps.every((v) => Object.keys(v).length === 0 || Object.keys(v).some((f) => CREDENTIAL_FIELDS.has(f)))) return 'credentials'
  // Only nulls: case-6 rules and bare security entries look alike, so neither is claimed.
  return 'unknown'
}

/**
 * A file given to a flag that reads `expected` formats, but that is another known format: one
 * error naming what it looks like and where it goes instead.
 */
export function checkFormat(text: string, file: string, flag: string, expected: readonly DetectedFormat[]): DetectedFormat {
  const detected = detectFormat(text)
  if (detected === 'empty' || detected === 'unknown' || expected.includes(detected)) return detected
  const hint = FORMAT_HINTS[detected]
  throw new ConfigError(`${flag} expects ${describeExpected(expected)}, but this looks like ${hint.name}; ${hint.use}`, {file})
}

function describeExpected(expected: readonly DetectedFormat[]): string {
  const names = expected.filter((f): f is keyof typeof FORMAT_HINTS => f in FORMAT_HINTS).map((f) => FORMAT_HINTS[f].name)
  return names.length <= 1 ? (names[0] ?? 'another format') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`
}
