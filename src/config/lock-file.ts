/**
 * A lock file's text → a Lock, every name in it checked as input: a lock is edited by hand, kept
 * in git and shipped inside layouts, and its references and digests go into URLs and paths.
 * One-line errors naming the file and the line of the entry at fault.
 */
import {ConfigError} from '../errors.js'
import {LOCK_VERSION, lockKey, referrerItemProblem, type Lock, type LockEntry} from '../lock.js'
import {digestProblem} from '../names.js'
import {parseReference, quote} from '../reference.js'
import {isPlainMap, kindOf, lineOfKey, loadYaml} from './yaml.js'

export function parseLock(text: string, file: string): Lock {
  const {value} = loadYaml(text, file, {duplicates: 'error', what: 'key'})
  if (!isPlainMap(value)) throw new ConfigError(`a lock file is a map with version: and images:, found ${kindOf(value)}`, {file})
  if (value.version !== LOCK_VERSION) {
    const found = typeof value.version === 'number' ? `version ${value.version}` : 'no version'
    throw new ConfigError(`lock file has ${found}; this ferry reads version ${LOCK_VERSION} (write it again with --lock-file and no --frozen)`, {
      file,
      line: lineOfKey(text, 'version'),
    })
  }
  const images = value.images ?? {}
  if (!isPlainMap(images))
    throw new ConfigError(`images: is ${kindOf(images)}; it maps each source reference to its digest`, {file, line: lineOfKey(text, 'images')})
  const lock: Lock = {version: LOCK_VERSION, images: {}}
  for (const [source, raw] of Object.entries(images)) {
    // A nested key's line: good enough to find, and never the file's other contents.
    const where = {file, line: lineOf(text, source)}
    let key: string
    try {
      key = lockKey(source)
    } catch (error) {
      throw new ConfigError((error as Error).message, where)
    }
    lock.images[key] = entryOf(raw, source, where)
  }
  return lock
}

function entryOf(raw: unknown, source: string, where: {file: string; line?: number}): LockEntry {
  if (!isPlainMap(raw)) throw new ConfigError(`${quote(source)} is ${kindOf(raw)}; it needs digest: and destinations:`, where)
  const digest = checkedDigest(raw.digest, `${quote(source)} digest`, where)
  const destinations: Record<string, string> = {}
  const listed = raw.destinations ?? {}
  if (!isPlainMap(listed)) throw new ConfigError(`${quote(source)} destinations: is ${kindOf(listed)}; it maps each destination reference to its digest`, where)
  for (const [destination, held] of Object.entries(listed)) {
    try {
      parseReference(destination)
    } catch (error) {
      throw new ConfigError((error as Error).message, where)
    }
    destinations[destination] = checkedDigest(held, `${quote(destination)}`, where)
  }
  const entry: LockEntry = {digest, destinations}
  if (raw.referrers !== undefined) {
    if (!Array.isArray(raw.referrers)) throw new ConfigError(`${quote(source)} referrers: is ${kindOf(raw.referrers)}; it lists digests`, where)
    entry.referrers = raw.referrers.map((item) => checkedReferrer(item, `${quote(source)} referrer`, where))
  }
  return entry
}

function checkedDigest(value: unknown, what: string, where: {file: string; line?: number}): string {
  if (typeof value !== 'string') throw new ConfigError(`${what} is ${kindOf(value)}; it needs a digest (sha256:…)`, where)
  const problem = digestProblem(value)
  if (problem)
    throw new ConfigError(`${what}: ${problem.reason}`, {...where, code: problem.code === 'INVALID_DIGEST' ? 'INVALID_DIGEST' : 'UNSUPPORTED_DIGEST'})
  return value
}

/** A digest, or `tag@digest` for a referrer held by a cosign tag. */
function checkedReferrer(value: unknown, what: string, where: {file: string; line?: number}): string {
  if (typeof value !== 'string' || !value.includes('@')) return checkedDigest(value, what, where)
  const problem = referrerItemProblem(value)
  if (problem) throw new ConfigError(`${what} ${quote(value)}: ${problem}`, where)
  return value
}

/** The first line that holds `key` as a map key (quoted or not). */
function lineOf(text: string, key: string): number | undefined {
  const lines = text.split('\n')
  const index = lines.findIndex((line) => {
    const trimmed = line.trimStart()
    return trimmed.startsWith(`${key}:`) || trimmed.startsWith(`"${key}":`) || trimmed.startsWith(`'${key}':`)
  })
  return index < 0 ? undefined : index + 1
}
