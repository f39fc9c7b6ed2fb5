/**
 * The lock that travels inside a layout: `ferry.lock.yaml` beside index.json, written by save
 * (the digests it saved, under their source references) and read by `load --frozen`, which loads
 * only what the lock names. A layout comes from elsewhere: the file is read as the layout's other
 * files are (a regular file, bounded) and checked like any lock file.
 */
import path from 'node:path'

import {replaceFileAtomically} from '../atomic-file.js'
import {parseLock} from '../config/lock-file.js'
import {ConfigError, FerryError} from '../errors.js'
import {lockKey, serializeLock, type Lock, type LockedResult} from '../lock.js'
import {LAYOUT_REGISTRY} from '../layout/layout.js'
import {INDEX_LIMIT, readRegular} from '../layout/regular-file.js'
import type {Rule} from '../rule.js'

export const LAYOUT_LOCK_FILE = 'ferry.lock.yaml'

/** The layout's lock; undefined when it has none (a layout written by skopeo, or by a ferry before locks). */
export async function readLayoutLock(dir: string, shownAs = path.join(dir, LAYOUT_LOCK_FILE)): Promise<Lock | undefined> {
  let bytes: Buffer
  try {
    bytes = await readRegular(path.join(dir, LAYOUT_LOCK_FILE), INDEX_LIMIT, 'a lock file')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  return parseLock(bytes.toString('utf8'), shownAs)
}

export async function writeLayoutLock(dir: string, lock: Lock): Promise<void> {
  await replaceFileAtomically(path.join(dir, LAYOUT_LOCK_FILE), serializeLock(lock, 'yaml'), {temporaryName: `.ferry-tmp-${process.pid}-${LAYOUT_LOCK_FILE}`})
}

/** A save's result as a lock sees it: the layout side named by its ref name (the source reference). Pure. */
export function savedResult<T extends LockedResult>(result: T): T {
  const prefix = `${LAYOUT_REGISTRY}/`
  return result.destination.startsWith(prefix) ? {...result, destination: result.destination.slice(prefix.length)} : result
}

/**
 * `load --frozen`: the layout's rules that load what the lock names; every other one refused with
 * one line (not in the lock, or the layout holds another digest under its name). Pure.
 */
export function frozenLoadRules(rules: readonly Rule[], lock: Lock, lockName: string): {rules: Rule[]; errors: ConfigError[]} {
  const kept: Rule[] = []
  const errors: ConfigError[] = []
  for (const rule of rules) {
    const digest = rule.source.digest!
    let key: string | undefined
    try {
      key = lockKey(rule.text)
    } catch (error) {
      if (!FerryError.is(error)) throw error
    }
    const entry = key === undefined ? undefined : lock.images[key]
    if (!entry) errors.push(new ConfigError(`${rule.text} is not in ${lockName}; --frozen loads only locked images`, {code: 'NOT_LOCKED'}))
    else if (entry.digest !== digest && !Object.values(entry.destinations).includes(digest)) {
      errors.push(new ConfigError(`${rule.text} is ${digest} in the layout but ${entry.digest} in ${lockName}; not loaded`, {code: 'DIGEST_MISMATCH'}))
    } else kept.push(rule)
  }
  return {rules: kept, errors}
}
