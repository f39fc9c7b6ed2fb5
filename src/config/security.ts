/**
 * image-transfer's security.yaml: registry (or registry/namespace prefix) → credentials and TLS
 * settings. Values here are secrets, so no error message ever quotes one: messages name the file,
 * the line, the entry and the field.
 *
 * Also home of the small YAML helpers rules.ts shares (loading with one-line errors, and finding
 * the line of a key, which js-yaml v4 does not report).
 */
import {readFileSync, statSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'
import yaml from 'js-yaml'
import {ConfigError, type FerryCode} from '../errors.js'
import {normalizeRegistry, parseRegistryHost, quote, repositoryPathProblem} from '../reference.js'
import {expandEnv} from './env.js'

export interface RegistryAccess {
  username?: string
  password?: string
  /** Plain HTTP instead of HTTPS. */
  insecure: boolean
  skipTlsVerify: boolean
  /** Absolute path of the CA bundle, resolved against the security file's directory. */
  caFile?: string
  /** PEM text read from caFile when the file was parsed. */
  ca?: string
  /** The matched key as written in the file, for messages. */
  entry?: string
}

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
    throw new ConfigError(
      `a security file is a map from registry (or registry/namespace) to credentials; this one is ${kindOf(doc)}`,
      {file},
    )
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
    const access = parseEntry(key, value, scheme, {file, line, fieldLine, env})
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
    const expanded = expandEnv(raw as string, ctx.env)
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
  const suggestion =
    FIELDS.find((f) => f.toLowerCase() === folded) ??
    FOREIGN_FIELDS[folded] ??
    FIELDS.find((f) => editDistance(f.toLowerCase(), folded) <= 2)
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

// ---------------------------------------------------------------------------------------------
// YAML helpers shared with rules.ts
// ---------------------------------------------------------------------------------------------

export function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

/** How a YAML value reads to a person, for "found …" in messages; never the value itself. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  if (value instanceof Date) return 'a date'
  if (typeof value === 'object') return 'a map'
  if (typeof value === 'number') return 'a number'
  if (typeof value === 'boolean') return 'a boolean'
  return `a ${typeof value}`
}

export interface LoadOptions {
  /**
   * 'error': a repeated key fails the whole file. 'report': last one wins and the line of the first
   * repeat is returned, so the caller can fail just the entries involved.
   */
  duplicates: 'error' | 'report'
  /** What a top-level key is called in messages ("entry", "rule"). */
  what: string
  code?: FerryCode
}

/**
 * js-yaml with one-line errors: its message carries a multi-line snippet of the file, which would
 * print secrets from a security file, so only `reason` and the line are kept.
 */
export function loadYaml(text: string, file: string, options: LoadOptions): {value: unknown; duplicateLine?: number} {
  const body = stripBom(text)
  try {
    try {
      return {value: yaml.load(body)}
    } catch (error) {
      const repeat = error instanceof yaml.YAMLException && error.reason === 'duplicated mapping key' ? error.mark : undefined
      if (options.duplicates !== 'report' || !repeat) throw error
      // A second parse, letting the last repeat win, only for files that do repeat a key.
      return {value: yaml.load(body, {json: true}), duplicateLine: repeat.line + 1}
    }
  } catch (error) {
    if (!(error instanceof yaml.YAMLException)) throw error
    const line = error.mark ? error.mark.line + 1 : undefined
    if (error.reason === 'duplicated mapping key' && error.mark) {
      const message = duplicateMessage(body, error.mark.position, options.what)
      if (message) throw new ConfigError(message, {file, line, code: options.code})
    }
    throw new ConfigError(`invalid YAML: ${reasonWithoutContent(error.reason)}`, {file, line, code: options.code})
  }
}

/**
 * Some of js-yaml's reasons quote the text they stopped at (`unidentified alias "…"`, `unknown tag
 * !<…>`): with an unquoted password such as `*hunter2` or `!hunter2` that is the secret itself.
 * The line number says where to look.
 */
function reasonWithoutContent(reason: string): string {
  return reason
    // Greedy: the quoted text can itself hold quotes.
    .replace(/"[\s\S]*"/, '(not shown)')
    .replace(/!<[\s\S]*>/, '(not shown)')
    .replace(/^(tag name cannot contain such characters|tag name is malformed|tag prefix is malformed): .*$/s, '$1')
    .replace(/[\r\n]+/g, ' ')
}

function duplicateMessage(text: string, position: number, what: string): string | undefined {
  const keys = scanKeys(text)
  let second: KeyAt | undefined
  for (const key of keys) if (key.offset <= position) second = key
  if (!second) return undefined
  // The nearest earlier sibling: nested maps repeat field names legitimately under other parents.
  const first = keys.findLast((k) => k.key === second!.key && k.level === second!.level && k.offset < second!.offset)
  if (!first) return undefined
  const label = second.top ? `${what} ${quote(second.key)}` : `key ${quote(second.key)}`
  return `${label} appears twice (lines ${first.line} and ${second.line}); each key may appear only once`
}

export interface KeyAt {
  /** The key as js-yaml will see it when written quoted; the raw token for plain keys. */
  key: string
  /** True when the key was written without quotes, so YAML may read it as a number, bool or null. */
  plain: boolean
  line: number
  offset: number
  /** Indentation (block style) or brace depth (flow style / JSON); equal levels are siblings. */
  level: number
  /** A key of the top-level map. */
  top: boolean
}

/**
 * The keys of a YAML or JSON text with their lines, in one pass (rule files can be large, and
 * searching the text once per key would be quadratic). A heuristic, not a parser: it reads block
 * mappings line by line and flow/JSON text by brace depth, which covers how these files are written.
 */
export function scanKeys(source: string): KeyAt[] {
  const text = stripBom(source)
  const firstContent = /^(?:\s|#[^\n]*|---[^\n]*)*([^\s#])/.exec(text)
  return firstContent?.[1] === '{' ? scanFlow(text) : scanBlock(text)
}

/** Lines of each top-level key, in file order; the key is the one js-yaml produces. */
export function topLevelLines(keys: KeyAt[]): Map<string, number[]> {
  const lines = new Map<string, number[]>()
  for (const k of keys) {
    if (!k.top) continue
    const name = yamlKeyOf(k).key
    const list = lines.get(name)
    if (list) list.push(k.line)
    else lines.set(name, [k.line])
  }
  return lines
}

/** First line of a top-level key, for messages. */
export function lineOfKey(text: string, key: string): number | undefined {
  return topLevelLines(scanKeys(text)).get(key)?.[0]
}

/**
 * What js-yaml turns a key into: plain scalars that look like numbers, booleans or null are typed
 * first and then stringified (`1.10` → "1.1"), so `typed` says when the written key was not text.
 */
export function yamlKeyOf(k: KeyAt): {key: string; typed?: string} {
  if (!k.plain || !/^(?:[-+.~0-9]|(?:true|false|null)$)/i.test(k.key)) return {key: k.key}
  let value: unknown
  try {
    value = yaml.load(k.key)
  } catch {
    return {key: k.key}
  }
  return typeof value === 'string' ? {key: value} : {key: String(value), typed: kindOf(value)}
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

function scanBlock(text: string): KeyAt[] {
  const found: KeyAt[] = []
  let offset = 0
  let lineNo = 0
  let minIndent = Number.POSITIVE_INFINITY
  for (const rawLine of text.split('\n')) {
    lineNo++
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine
    const lineOffset = offset
    offset += rawLine.length + 1
    const indent = line.length - line.trimStart().length
    const rest = line.slice(indent)
    if (rest === '' || /^(?:#|---|\.\.\.|%|- |-$|\? )/.test(rest)) continue
    let key: string | undefined
    let plain = false
    if (rest[0] === '"' || rest[0] === "'") {
      const quoted = readQuoted(rest, 0)
      if (quoted && /^[ \t]*:(?:[ \t]|$)/.test(rest.slice(quoted.end))) key = quoted.value
    } else {
      const colon = /:(?:[ \t]|$)/.exec(rest)
      const comment = /[ \t]#/.exec(rest)
      if (colon && (!comment || comment.index > colon.index)) {
        key = rest.slice(0, colon.index).trimEnd()
        plain = true
      }
    }
    if (key === undefined) continue
    minIndent = Math.min(minIndent, indent)
    found.push({key, plain, line: lineNo, offset: lineOffset + indent, level: indent, top: false})
  }
  for (const k of found) k.top = k.level === minIndent
  return found
}

function scanFlow(text: string): KeyAt[] {
  const found: KeyAt[] = []
  let depth = 0
  let line = 1
  let lastStructural = ''
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '\n') {
      line++
      continue
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') continue
    if (ch === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      const end = text.indexOf('\n', i)
      i = (end < 0 ? text.length : end) - 1
      continue
    }
    if (ch === '{' || ch === '[') depth++
    else if (ch === '}' || ch === ']') depth--
    if ('{}[],:'.includes(ch)) {
      lastStructural = ch
      continue
    }
    const start = i
    const startLine = line
    let key: string | undefined
    let plain = false
    let end: number
    if (ch === '"' || ch === "'") {
      const quoted = readQuoted(text, i)
      end = quoted ? quoted.end : text.length
      key = quoted?.value
    } else {
      end = plainEnd(text, i)
      key = text.slice(i, end).trimEnd()
      plain = true
    }
    for (let j = start; j < end; j++) if (text[j] === '\n') line++
    let after = end
    while (after < text.length && /[ \t\r\n]/.test(text[after]!)) {
      if (text[after] === '\n') line++
      after++
    }
    const isKey = text[after] === ':' && (lastStructural === '{' || lastStructural === ',')
    if (isKey && key !== undefined && depth > 0) {
      found.push({key, plain, line: startLine, offset: start, level: depth, top: depth === 1})
    }
    lastStructural = ''
    i = after - 1
  }
  return found
}

/** A plain scalar in flow context runs until a flow indicator, a line end or ": ". */
function plainEnd(text: string, start: number): number {
  let i = start
  for (; i < text.length; i++) {
    const ch = text[i]!
    if (ch === ',' || ch === '{' || ch === '}' || ch === '[' || ch === ']' || ch === '\n') break
    if (ch === ':' && (i + 1 >= text.length || /[\s,{}[\]]/.test(text[i + 1]!))) break
  }
  return i
}

/** A quoted scalar starting at `start`, decoded; undefined when it never closes. */
function readQuoted(text: string, start: number): {value: string; end: number} | undefined {
  const quoteChar = text[start]
  let i = start + 1
  while (i < text.length) {
    const ch = text[i]
    if (quoteChar === '"' && ch === '\\') {
      i += 2
      continue
    }
    if (ch === quoteChar) {
      if (quoteChar === "'" && text[i + 1] === "'") {
        i += 2
        continue
      }
      const raw = text.slice(start, i + 1)
      return {value: decodeQuoted(raw), end: i + 1}
    }
    i++
  }
  return undefined
}

function decodeQuoted(raw: string): string {
  if (raw[0] === "'") return raw.slice(1, -1).replace(/''/g, "'")
  try {
    return JSON.parse(raw) as string
  } catch {
    return raw.slice(1, -1)
  }
}
