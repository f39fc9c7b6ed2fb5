/**
 * image-transfer's security.yaml: registry (or registry/namespace prefix) → credentials and TLS
 * settings. Values here are secrets, so no error message ever quotes one: messages name the file,
 * the line, the entry and the field.
 */
import {readFileSync, statSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'
import {ConfigError} from '../errors.js'
import type {RegistryAccess} from '../registry/client.js'
import {normalizeRegistry, parseRegistryHost, quote, repositoryPathProblem} from '../reference.js'
import {expandEnv, expandUsername} from './env.js'
import {isPlainMap, kindOf, loadYaml, scanKeys, topLevelLines} from './yaml.js'

// One declaration, in the registry layer that uses it; the files read here fill it (insecure and
// skipTlsVerify always set, caFile resolved against the file's directory, entry the key as written).
export type {RegistryAccess}

export interface CredentialStore {
  lookup(registry: string, repository: string): RegistryAccess
  /**
   * Every password in the store, and each `username:password` pair (what a Basic header carries,
   * base64ed), so reports and logs can blank them out wherever they appear.
   */
  secrets(): string[]
}

export const anonymousStore: CredentialStore = {
  lookup: () => ({insecure: false, skipTlsVerify: false}),
  secrets: () => [],
}

/** The system bundle of every public CA is about 200 KiB. */
const MAX_CA_FILE = 16 * 1024 * 1024

const FIELDS = ['username', 'password', 'insecure', 'skipTlsVerify', 'caFile'] as const
type Field = (typeof FIELDS)[number]

// Names people bring from docker config.json, image-syncer and k8s, mapped to ours for the hint.
const FOREIGN_FIELDS: Record<string, Field> = {
  user: 'username',
  pass: 'password',
  passwd: 'password',
  token: 'password',
  auth: 'password',
  ca: 'caFile',
  cacert: 'caFile',
  certfile: 'caFile',
  insecureskipverify: 'skipTlsVerify',
  tlsverify: 'skipTlsVerify',
  skipverify: 'skipTlsVerify',
  http: 'insecure',
  plainhttp: 'insecure',
}

export async function loadSecurityFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<CredentialStore> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new ConfigError(`cannot read security file (${systemCode(error)})`, {file})
  }
  return parseSecurity(text, file, env)
}

export function parseSecurity(text: string, file: string, env: NodeJS.ProcessEnv = process.env): CredentialStore {
  const doc = loadYaml(text, file, {duplicates: 'error', what: 'entry'}).value
  if (doc === null || doc === undefined) return new PrefixStore(new Map())
  if (!isPlainMap(doc)) {
    throw new ConfigError(`a security file is a map from registry (or registry/namespace) to credentials; this one is ${kindOf(doc)}`, {file})
  }

  const keys = scanKeys(text)
  const entryLines = topLevelLines(keys)
  const sortedTop = keys.filter((k) => k.top).map((k) => k.line)
  const entries = new Map<string, {access: RegistryAccess; line?: number; key: string}>()

  for (const [key, value] of Object.entries(doc)) {
    const line = entryLines.get(key)?.[0]
    const where = {file, line}
    const fieldLine = (field: string): number | undefined => {
      if (line === undefined) return undefined
      const end = sortedTop.find((l) => l > line) ?? Number.POSITIVE_INFINITY
      return keys.find((k) => !k.top && k.key === field && k.line >= line && k.line < end)?.line ?? line
    }
    const {prefix, scheme} = parseEntryKey(key, where)
    const access = {...parseEntry(key, value, scheme, {file, line, fieldLine, env}), writtenIn: writtenAt(file, line)}
    const earlier = entries.get(prefix)
    if (earlier) {
      throw new ConfigError(
        `entry ${quote(key)} names the same registry prefix as ${quote(earlier.key)}${earlier.line ? ` (line ${earlier.line})` : ''}; keep one`,
        where,
      )
    }
    entries.set(prefix, {access, line, key})
  }
  return new PrefixStore(new Map([...entries].map(([prefix, entry]) => [prefix, entry.access])))
}

/**
 * `fallback` under `primary`, field by field, for credentials found outside the security file
 * (docker's config.json, a skopeo sync file): the security entry's login wins when it gives a
 * username (and `fallback` is then not even asked: a docker helper may prompt), its scheme and TLS
 * settings whenever it has an entry for the registry; otherwise `fallback`'s.
 */
export function fallbackStore(primary: CredentialStore, fallback: CredentialStore): CredentialStore {
  return {
    lookup(registry, repository) {
      const access = primary.lookup(registry, repository)
      if (access.username) return access
      const other = fallback.lookup(registry, repository)
      if (other.entry === undefined) return access
      const tls = access.entry !== undefined ? {} : {insecure: other.insecure, skipTlsVerify: other.skipTlsVerify, ...(other.ca ? {ca: other.ca} : {})}
      const login =
        other.username || other.identityToken
          ? {username: other.username, password: other.password, ...(other.identityToken ? {identityToken: other.identityToken} : {})}
          : {}
      // Where the login came from says where to fix it; without one, where the TLS settings did.
      const writtenIn = other.username || other.identityToken || access.entry === undefined ? other.writtenIn : access.writtenIn
      return {
        ...access,
        ...tls,
        ...login,
        entry: access.entry !== undefined ? `${access.entry} (${other.entry})` : other.entry,
        ...(writtenIn !== undefined ? {writtenIn} : {}),
      }
    },
    secrets: () => [...primary.secrets(), ...fallback.secrets()],
  }
}

/** RegistryAccess.writtenIn for an entry of `file`: 'security.yaml:4'. */
export function writtenAt(file: string, line?: number): string {
  return line ? `${file}:${line}` : file
}

/** A store of ready entries (registry or registry/namespace → access), for formats that carry their own. */
export function credentialStoreOf(entries: Map<string, RegistryAccess>): CredentialStore {
  return new PrefixStore(entries)
}

class PrefixStore implements CredentialStore {
  constructor(private readonly entries: Map<string, RegistryAccess>) {}

  secrets(): string[] {
    return [...this.entries.values()].flatMap((access) =>
      access.password ? [access.password, ...(access.username ? [`${access.username}:${access.password}`] : [])] : [],
    )
  }

  lookup(registry: string, repository: string): RegistryAccess {
    const host = normalizeRegistry(registry)
    if (this.entries.size > 0) {
      // Longest prefix by whole path components, so `reg.io/ns` never matches `reg.io/nsx/app`.
      const components = repository.split('/').filter((c) => c !== '')
      for (let n = components.length; n >= 0; n--) {
        const prefix = n === 0 ? host : `${host}/${components.slice(0, n).join('/')}`
        const found = this.entries.get(prefix)
        if (found) return {...found}
      }
    }
    return {insecure: false, skipTlsVerify: false}
  }
}

function parseEntryKey(key: string, where: {file: string; line?: number}): {prefix: string; scheme?: 'http' | 'https'} {
  let rest = key.trim()
  let scheme: 'http' | 'https' | undefined
  const match = /^(https?):\/\//i.exec(rest)
  if (match) {
    scheme = match[1]!.toLowerCase() as 'http' | 'https'
    rest = rest.slice(match[0].length)
  }
  rest = rest.replace(/\/+$/, '')
  if (rest === '') throw new ConfigError(`entry ${quote(key)} names no registry`, where)
  const slash = rest.indexOf('/')
  const hostText = slash < 0 ? rest : rest.slice(0, slash)
  const path = slash < 0 ? '' : rest.slice(slash + 1)
  let host: string
  try {
    host = parseRegistryHost(hostText)
  } catch (error) {
    throw new ConfigError(`entry ${quote(key)}: ${(error as Error).message}`, where)
  }
  if (path !== '') {
    const problem = repositoryPathProblem(path)
    if (problem) throw new ConfigError(`entry ${quote(key)}: namespace ${problem}`, where)
  }
  return {prefix: path === '' ? host : `${host}/${path}`, scheme}
}

interface EntryContext {
  file: string
  line?: number
  fieldLine(field: string): number | undefined
  env: NodeJS.ProcessEnv
}

function parseEntry(key: string, value: unknown, scheme: 'http' | 'https' | undefined, ctx: EntryContext): RegistryAccess {
  const entry = quote(key)
  const fail = (message: string, field?: string): never => {
    throw new ConfigError(`entry ${entry}: ${message}`, {file: ctx.file, line: field ? ctx.fieldLine(field) : ctx.line})
  }
  if (value === null || value === undefined) value = {}
  if (!isPlainMap(value)) fail(`must be a map with ${FIELDS.join(', ')}; found ${kindOf(value)}`)
  const fields = value as Record<string, unknown>

  for (const name of Object.keys(fields)) {
    if ((FIELDS as readonly string[]).includes(name)) continue
    fail(`${unknownFieldText(name)}; allowed fields: ${FIELDS.join(', ')}`, name)
  }

  const text = (field: Field): string | undefined => {
    const raw = fields[field]
    if (raw === null || raw === undefined) return undefined
    if (typeof raw !== 'string') {
      fail(`${field} must be a string, found ${kindOf(raw)} (quote it in YAML)`, field)
    }
    const expanded = (field === 'username' ? expandUsername : expandEnv)(raw as string, ctx.env)
    if (!expanded.ok) return fail(`${field} ${expanded.problem}`, field)
    return expanded.value
  }
  const flag = (field: Field): boolean | undefined => {
    const raw = fields[field]
    if (raw === null || raw === undefined || typeof raw === 'boolean') return raw ?? undefined
    const word = typeof raw === 'string' ? text(field)!.trim().toLowerCase() : undefined
    if (word === 'true') return true
    if (word === 'false') return false
    return fail(`${field} must be true or false`, field)
  }

  const access: RegistryAccess = {insecure: false, skipTlsVerify: false, entry: key}
  const username = text('username')
  const password = text('password')
  // Empty after expansion counts as absent, so `${REG_USER}` set to '' means anonymous on purpose.
  if (username) access.username = username
  if (password) {
    if (!username) fail('has a password but no username', 'password')
    access.password = password
  }

  const insecure = flag('insecure')
  if (scheme === 'http' && insecure === false) fail('says http:// but insecure: false; drop one', 'insecure')
  if (scheme === 'https' && insecure === true) fail('says https:// but insecure: true; drop one', 'insecure')
  access.insecure = insecure ?? scheme === 'http'
  access.skipTlsVerify = flag('skipTlsVerify') ?? false

  const caFile = text('caFile')
  if (caFile) {
    const path = resolve(dirname(ctx.file), caFile)
    let pem: string
    try {
      // A device or pipe (/dev/zero, a FIFO) would be read forever: only a regular file of a
      // bundle's size is read at all.
      const stats = statSync(path)
      if (!stats.isFile()) return fail('caFile is not a regular file', 'caFile')
      if (stats.size > MAX_CA_FILE) return fail(`caFile is larger than ${MAX_CA_FILE / 1024 / 1024} MiB; it is not a CA bundle`, 'caFile')
      pem = readFileSync(path, 'utf8')
    } catch (error) {
      if (error instanceof ConfigError) throw error
      return fail(`cannot read caFile (${systemCode(error)})`, 'caFile')
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) fail('caFile holds no PEM certificate', 'caFile')
    access.caFile = path
    access.ca = pem
  }
  return access
}

/**
 * A key that is nowhere near a field name may be a secret pasted one level too high
 * (`reg.io: {user, hunter2}`), so only near-misses are quoted back.
 */
function unknownFieldText(name: string): string {
  const folded = name.toLowerCase().replace(/[_-]/g, '')
  const suggestion = FIELDS.find((f) => f.toLowerCase() === folded) ?? FOREIGN_FIELDS[folded] ?? FIELDS.find((f) => editDistance(f.toLowerCase(), folded) <= 2)
  if (!suggestion) return 'has an unknown field (not shown, in case it is a secret)'
  return `has an unknown field ${quote(name)} (did you mean ${suggestion}?)`
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3
  let previous = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

function systemCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code ?? 'unreadable'
}
