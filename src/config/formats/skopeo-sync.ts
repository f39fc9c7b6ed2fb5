/**
 * skopeo sync's YAML source file (`skopeo sync --src yaml FILE DEST`): per registry, `images`
 * (repository → tags and digests; none means every tag), `images-by-tag-regex`, `images-by-semver`,
 * `credentials`, `tls-verify` and `cert-dir`. skopeo takes the destination on its command line;
 * ferry takes it from --registry and --ns, as for an image list.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {resolve} from 'node:path'

import {ConfigError} from '../../errors.js'
import {parseRegistryHost, quote} from '../../reference.js'
import {checkDefaults, parseRule, type ParsedRules, type Rule, type RuleDefaults} from '../rules.js'
import {credentialStoreOf, writtenAt, type CredentialStore, type RegistryAccess} from '../security.js'
import {isPlainMap, kindOf, loadYaml, scanKeys, type KeyAt} from '../yaml.js'
import {syncerEntry} from './syncer-rules.js'

export const SKOPEO_SYNC_KEYS = ['images', 'images-by-tag-regex', 'images-by-semver', 'credentials', 'tls-verify', 'cert-dir'] as const
const SELECTING = ['images', 'images-by-tag-regex', 'images-by-semver']

/** True when every top-level value is a map of skopeo sync's keys and one of them selects images. Pure. */
export function looksLikeSkopeoSync(doc: Record<string, unknown>): boolean {
  const values = Object.values(doc)
  return (
    values.length > 0 &&
    values.every((v) => isPlainMap(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => (SKOPEO_SYNC_KEYS as readonly string[]).includes(k))) &&
    values.some((v) => Object.keys(v as object).some((k) => SELECTING.includes(k)))
  )
}

export function parseSkopeoSync(text: string, file: string, defaults: RuleDefaults): ParsedRules & {credentials?: CredentialStore} {
  const checked = checkDefaults(defaults)
  if (checked.registry === undefined && checked.namespace === undefined) {
    throw new ConfigError('a skopeo sync file names sources only; give the destination with --registry and --ns (skopeo takes it on its command line)', {file})
  }
  const doc = loadYaml(text, file, {duplicates: 'error', what: 'key'}).value
  if (!isPlainMap(doc)) throw new ConfigError(`a skopeo sync file is a map of registries; this one is ${kindOf(doc)}`, {file})
  const keys = scanKeys(text)
  const rules: Rule[] = []
  const errors: ConfigError[] = []
  const logins = new Map<string, RegistryAccess>()

  for (const [registryKey, value] of Object.entries(doc)) {
    const at = lineFinder(keys, registryKey)
    const fail = (message: string, key?: string): never => {
      throw new ConfigError(`registry ${quote(registryKey)}: ${message}`, {file, line: at(key)})
    }
    let registry: string
    try {
      registry = parseRegistryHost(registryKey.trim())
    } catch (error) {
      return fail((error as Error).message)
    }
    if (!isPlainMap(value)) fail(`must be a map of ${SKOPEO_SYNC_KEYS.join(', ')}; found ${kindOf(value)}`)
    const section = value as Record<string, unknown>
    for (const key of Object.keys(section)) {
      if (!(SKOPEO_SYNC_KEYS as readonly string[]).includes(key))
        fail(`${quote(key)} is not a skopeo sync key; the keys are ${SKOPEO_SYNC_KEYS.join(', ')}`, key)
    }

    const add = (repository: string, build: () => Omit<Rule, 'text' | 'file' | 'line'>[]) => {
      const textOf = `${registry}/${repository}`
      try {
        for (const rule of build()) rules.push({...rule, text: textOf, file, line: at(repository)})
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        errors.push(new ConfigError(`image ${quote(textOf)}: ${error.message}`, {file, line: at(repository), code: 'INVALID_RULE'}))
      }
    }
    for (const [repository, references] of entries(section.images, 'images', fail)) {
      add(repository, () => {
        const named = references === null || references === undefined ? [] : references
        if (!Array.isArray(named) || named.some((r) => typeof r !== 'string' || r.trim() === '')) {
          throw new ConfigError('must list tags and digests (or nothing, for every tag)')
        }
        const tags = (named as string[]).map((r) => r.trim()).filter((r) => !r.includes(':'))
        const digests = (named as string[]).map((r) => r.trim()).filter((r) => r.includes(':'))
        const source = `${registry}/${repository}`
        return [
          ...(tags.length > 0 || digests.length === 0 ? syncerEntry(tags.length > 0 ? `${source}:${tags.join(',')}` : source, null, checked) : []),
          ...digests.flatMap((digest) => syncerEntry(`${source}@${digest}`, null, checked)),
        ]
      })
    }
    for (const [repository, pattern] of entries(section['images-by-tag-regex'], 'images-by-tag-regex', fail)) {
      add(repository, () => {
        if (typeof pattern !== 'string' || pattern === '') throw new ConfigError('must be a regular expression for its tags')
        return syncerEntry(`${registry}/${repository}:/${pattern}/`, null, checked)
      })
    }
    for (const [repository, constraint] of entries(section['images-by-semver'], 'images-by-semver', fail)) {
      add(repository, () => {
        if (typeof constraint !== 'string' || constraint.trim() === '') throw new ConfigError('must be a semver constraint such as ">= 1.2.0, < 2"')
        // Go's Masterminds constraints join with commas where npm ranges use spaces.
        return [parseRule(`${registry}/${repository}`, {semver: constraint.replace(/,/g, ' ')}, checked)]
      })
    }

    const login = accessOf(section, registry, file, writtenAt(file, at()), fail)
    if (login) logins.set(registry, login)
  }
  return {rules, errors, warnings: [], ...(logins.size > 0 ? {credentials: credentialStoreOf(logins)} : {})}
}

function entries(value: unknown, key: string, fail: (message: string, key?: string) => never): [string, unknown][] {
  if (value === undefined || value === null) return []
  if (!isPlainMap(value))
    fail(
      `${key} must be a map of repository to ${key === 'images' ? 'tags' : key === 'images-by-semver' ? 'constraint' : 'pattern'}; found ${kindOf(value)}`,
      key,
    )
  return Object.entries(value as Record<string, unknown>)
}

/** credentials, tls-verify and cert-dir as the access for one registry; undefined when none is set. */
function accessOf(
  section: Record<string, unknown>,
  registry: string,
  file: string,
  writtenIn: string,
  fail: (message: string, key?: string) => never,
): RegistryAccess | undefined {
  const credentials = section.credentials
  const tlsVerify = section['tls-verify']
  const certDir = section['cert-dir']
  if (credentials === undefined && tlsVerify === undefined && certDir === undefined) return undefined
  const access: RegistryAccess = {insecure: false, skipTlsVerify: false, entry: `${registry} (skopeo sync file)`, writtenIn}
  if (credentials !== undefined && credentials !== null) {
    const fields = isPlainMap(credentials)
      ? (credentials as Record<string, unknown>)
      : fail('credentials must be a map of username and password', 'credentials')
    const {username, password} = fields
    if (typeof username !== 'string' || typeof password !== 'string' || username === '' || password === '') {
      fail('credentials needs a username and a password, both strings (the values are not shown)', 'credentials')
    }
    access.username = username as string
    access.password = password as string
  }
  if (tlsVerify !== undefined && tlsVerify !== null) {
    if (typeof tlsVerify !== 'boolean') fail(`tls-verify must be true or false; found ${kindOf(tlsVerify)}`, 'tls-verify')
    // HTTPS without verification, as skopeo's false means; a plain-HTTP registry is `http://HOST` in --securityFile.
    access.skipTlsVerify = tlsVerify === false
  }
  if (certDir !== undefined && certDir !== null) {
    if (typeof certDir !== 'string' || certDir.trim() === '') fail('cert-dir must be a directory', 'cert-dir')
    access.ca = readCertDir(resolve(file, '..', certDir as string), (message) => fail(message, 'cert-dir'))
  }
  return access
}

/** The CA certificates of a containers-style cert dir (`*.crt`; client certificates are not read). */
function readCertDir(dir: string, fail: (message: string) => never): string {
  let names: string[]
  try {
    names = readdirSync(dir)
      .filter((name) => name.endsWith('.crt'))
      .sort()
  } catch (error) {
    return fail(`cert-dir cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`)
  }
  if (names.length === 0) fail('cert-dir has no *.crt file (its CA certificates)')
  return names.map((name) => readFileSync(resolve(dir, name), 'utf8')).join('\n')
}

/** Line of a key inside one registry's section (or of the registry itself). */
function lineFinder(keys: KeyAt[], registryKey: string): (key?: string) => number | undefined {
  const start = keys.find((k) => k.top && k.key === registryKey)
  const end = keys.find((k) => k.top && start !== undefined && k.offset > start.offset)
  return (key) => {
    if (key === undefined || start === undefined) return start?.line
    return keys.find((k) => !k.top && k.key === key && k.offset > start.offset && (end === undefined || k.offset < end.offset))?.line ?? start.line
  }
}
