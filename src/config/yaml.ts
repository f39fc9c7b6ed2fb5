/**
 * YAML as ferry's input files need it: one-line errors that never quote the file (a security file
 * holds secrets), and the line of each key, which js-yaml v4 does not report.
 */
import yaml from 'js-yaml'

import {ConfigError, type FerryCode} from '../errors.js'
import {quote} from '../reference.js'

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
  return (
    reason
      // Greedy: the quoted text can itself hold quotes.
      .replace(/"[\s\S]*"/, '(not shown)')
      .replace(/!<[\s\S]*>/, '(not shown)')
      .replace(/^(tag name cannot contain such characters|tag name is malformed|tag prefix is malformed): .*$/s, '$1')
      .replace(/[\r\n]+/g, ' ')
  )
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
